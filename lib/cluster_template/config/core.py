"""Core `cluster.yaml` keys: networks, API and gateway addresses, Cloudflare, the Git repository,
Cilium (including BGP), UniFi DNS, and the pinned Talos/Kubernetes versions."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from .base import Settings, is_set, rule, set_together
from .types import ASN, FQDN, DNSLabel, GitBranch, HttpURL, IPv4, IPv4CIDR, Token, release_version, secret

DEFAULT_TALOS_VERSION = "v1.12.11"
DEFAULT_KUBERNETES_VERSION = "v1.35.4"
if TYPE_CHECKING:
    # A type checker cannot use a type built by a call; the validated value is a plain str.
    TalosVersion = str
    KubernetesVersion = str
else:
    TalosVersion = release_version("Talos 1.12", r"^v1\.12\.\d+$", "v1.12.11")
    KubernetesVersion = release_version("Kubernetes 1.30-1.35", r"^v1\.3[0-5]\.\d+$", "v1.35.4")


class CoreSettings(Settings):
    """Core: networks, addresses, Cloudflare, the Git repository, Cilium, UniFi DNS, versions"""

    # -- networks ---------------------------------------------------------------------------
    node_cidr: IPv4CIDR = Field(description="Network the nodes live on, e.g. 192.168.1.0/24.")
    node_dns_servers: list[IPv4] = Field(
        ["1.1.1.1", "1.0.0.1"], description="DNS servers the nodes use.")
    node_ntp_servers: list[IPv4] = Field(
        ["162.159.200.1", "162.159.200.123"], description="NTP servers the nodes use.")
    node_default_gateway: IPv4 | None = Field(
        None, description="Default gateway of the node network. Default: the first address of node_cidr.")
    node_vlan_tag: int | None = Field(
        None, ge=1, le=4094, description="VLAN the node addresses live on (1-4094). Unset: untagged.")
    cluster_name: DNSLabel = Field("kubernetes", description="Name of the cluster (Talos clusterName).")
    cluster_pod_cidr: IPv4CIDR = Field("10.42.0.0/16", description="Pod network.")
    cluster_svc_cidr: IPv4CIDR = Field("10.43.0.0/16", description="Service network.")

    # -- addresses --------------------------------------------------------------------------
    cluster_api_addr: IPv4 = Field(
        description="Virtual IP of the Kubernetes API, shared by the controllers; inside node_cidr.")
    cluster_api_tls_sans: list[FQDN] = Field(
        [], description="Extra DNS names for the Kubernetes API certificate.")
    cluster_gateway_addr: IPv4 = Field(
        description="Load-balancer address of the internal gateway (envoy-internal).")
    cluster_dns_gateway_addr: IPv4 | None = Field(
        None, description="Load-balancer address of k8s-gateway (split DNS). Required unless UniFi DNS is configured.")
    cloudflare_gateway_addr: IPv4 = Field(
        description="Load-balancer address of the external gateway (envoy-external), reached through the tunnel.")

    # -- Cloudflare and the repository ------------------------------------------------------
    cloudflare_domain: FQDN = Field(description="Domain managed in Cloudflare, e.g. example.com.")
    cloudflare_token: Token = secret(
        ..., min_length=1,
        description="Cloudflare API token with Zone:DNS:Edit and Account:Cloudflare Tunnel:Read.")
    repository_name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="GitHub repository Flux syncs from, as owner/name.")
    repository_branch: GitBranch = Field("main", description="Branch Flux syncs from (a valid git branch name).")
    repository_visibility: Literal["public", "private"] = Field(
        "public", description="private: Flux uses the deploy key (github-deploy.key) over SSH.")

    # -- Cilium -----------------------------------------------------------------------------
    cilium_loadbalancer_mode: Literal["dsr", "snat"] = Field(
        "dsr", description="Cilium load-balancer mode.")
    cilium_lb_pool_cidr: IPv4CIDR | None = Field(
        None, description="Address pool for LoadBalancer services. Default: node_cidr.")
    cilium_bgp_router_addr: IPv4 | None = Field(
        None, description="BGP peer (router) address; with the two ASNs enables BGP Control Plane v2.")
    cilium_bgp_router_asn: ASN | None = Field(None, description="BGP autonomous system number of the router.")
    cilium_bgp_node_asn: ASN | None = Field(None, description="BGP autonomous system number of the nodes.")
    cilium_bgp_hold_time: int = Field(30, ge=3, le=300, description="BGP hold time in seconds.")
    cilium_bgp_keepalive_time: int = Field(10, ge=1, le=100, description="BGP keepalive interval in seconds.")
    cilium_bgp_graceful_restart: bool = Field(False, description="Enable BGP graceful restart.")
    cilium_bgp_graceful_restart_time: int | None = Field(
        None, ge=30, le=600,
        description="Seconds the router keeps this cluster's routes while a node's BGP session restarts "
                    "(needs cilium_bgp_graceful_restart). Default 120.")
    cilium_bgp_ecmp_max_paths: int = Field(
        3, ge=1, le=64,
        description="Equal-cost paths the router installs for one LoadBalancer address (one per advertising "
                    "node, so traffic spreads over them); written as maximum-paths into bootstrap/unifi-bgp.conf (the router side of BGP).")
    cilium_bgp_password: Token | None = secret(
        None, max_length=80,
        description="TCP MD5 password of the BGP session (RFC 2385, at most 80 characters); the router's "
                    "neighbor must use the same one. Sealed in the Secret kube-system/bgp-peer-password.")

    # -- UniFi DNS --------------------------------------------------------------------------
    unifi_host: HttpURL | None = Field(
        None, description="UniFi controller URL (UniFi Network 9.0+); with unifi_api_key replaces k8s-gateway.")
    unifi_api_key: Token | None = secret(None, description="UniFi API key for external-dns.")
    unifi_site: str = Field("default", min_length=1, description="UniFi site name.")

    # -- versions ---------------------------------------------------------------------------
    talos_version: TalosVersion = Field(
        DEFAULT_TALOS_VERSION,
        description="Talos version installed and upgraded to (this template targets v1.12); "
                    "1.12.0 and v1.12.0 are the same.")
    kubernetes_version: KubernetesVersion = Field(
        DEFAULT_KUBERNETES_VERSION,
        description="Kubernetes version (Talos 1.12 supports 1.30 to 1.35); 1.35.0 and v1.35.0 are the same.")
    spegel_enabled: bool | None = Field(
        None, description="Run Spegel (peer-to-peer image mirror). Default: on when there is more than one node.")


def _network(value: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(value, strict=False)


@rule
def networks_do_not_overlap(config, nodes):
    """node_cidr, cluster_pod_cidr and cluster_svc_cidr must not overlap."""
    named = {key: _network(getattr(config, key)) for key in ("node_cidr", "cluster_pod_cidr", "cluster_svc_cidr")}
    keys = list(named)
    for index, first in enumerate(keys):
        for second in keys[index + 1:]:
            if named[first].overlaps(named[second]):
                yield second, f"{getattr(config, second)} overlaps {first} ({getattr(config, first)})"


@rule
def addresses_distinct_and_inside_node_network(config, nodes):
    """The API, gateway, DNS-gateway and Cloudflare-gateway addresses and the node addresses are all distinct, and inside
    node_cidr (the gateways may sit outside when BGP is configured)."""
    network = _network(config.node_cidr)
    gateways = ("cluster_gateway_addr", "cluster_dns_gateway_addr", "cloudflare_gateway_addr")
    bgp = cilium_bgp_configured(config)
    seen: dict[str, str] = {}
    for key in ("cluster_api_addr", *gateways):
        value = getattr(config, key)
        if value is None:
            continue
        if value in seen:
            yield key, f"{value} is already used by {seen[value]}"
        seen.setdefault(value, key)
        inside = ipaddress.IPv4Address(value) in network
        if not inside and (key == "cluster_api_addr" or not bgp):
            hint = "" if key == "cluster_api_addr" else " (gateways may sit outside only when BGP is configured)"
            yield key, f"{value} is not inside node_cidr {config.node_cidr}{hint}"
    for index, node in enumerate(nodes.nodes):
        if node.address in seen:
            yield f"nodes[{index}].address", f"{node.address} is already used by {seen[node.address]}"
    if config.node_default_gateway and ipaddress.IPv4Address(config.node_default_gateway) not in network:
        yield "node_default_gateway", f"{config.node_default_gateway} is not inside node_cidr {config.node_cidr}"


def cilium_bgp_configured(config) -> bool:
    return all(is_set(getattr(config, key)) for key in BGP_KEYS)


BGP_KEYS = ("cilium_bgp_router_addr", "cilium_bgp_router_asn", "cilium_bgp_node_asn")


@rule
def bgp_keys_together(config, nodes):
    """cilium_bgp_router_addr, cilium_bgp_router_asn and cilium_bgp_node_asn are set together or not at all."""
    yield from set_together(config, BGP_KEYS, "Cilium BGP")


@rule
def unifi_keys_together(config, nodes):
    """unifi_host and unifi_api_key are set together or not at all."""
    yield from set_together(config, ("unifi_host", "unifi_api_key"), "UniFi DNS")


@rule
def dns_gateway_unless_unifi(config, nodes):
    """cluster_dns_gateway_addr is required unless UniFi DNS is configured."""
    unifi = is_set(config.unifi_host) and is_set(config.unifi_api_key)
    if not unifi and config.cluster_dns_gateway_addr is None:
        yield "cluster_dns_gateway_addr", "is required unless UniFi DNS (unifi_host + unifi_api_key) is configured"


@rule
def gateways_inside_load_balancer_pool(config, nodes):
    """With cilium_lb_pool_cidr set, the gateway addresses lie inside it; with BGP and a gateway outside
    node_cidr, cilium_lb_pool_cidr is required (otherwise no pool can hand out that address)."""
    gateways = [key for key in ("cluster_gateway_addr", "cluster_dns_gateway_addr", "cloudflare_gateway_addr")
                if getattr(config, key) is not None]
    if config.cilium_lb_pool_cidr is not None:
        pool = _network(config.cilium_lb_pool_cidr)
        for key in gateways:
            if ipaddress.IPv4Address(getattr(config, key)) not in pool:
                yield key, f"{getattr(config, key)} is not inside cilium_lb_pool_cidr {config.cilium_lb_pool_cidr}"
        return
    network = _network(config.node_cidr)
    outside = [key for key in gateways if ipaddress.IPv4Address(getattr(config, key)) not in network]
    if outside:
        yield "cilium_lb_pool_cidr", f"is required when gateways sit outside node_cidr ({', '.join(outside)})"


@rule
def bgp_restart_time_needs_graceful_restart(config, nodes):
    """cilium_bgp_graceful_restart_time only has an effect with cilium_bgp_graceful_restart: true."""
    if config.cilium_bgp_graceful_restart_time is not None and not config.cilium_bgp_graceful_restart:
        yield "cilium_bgp_graceful_restart_time", "requires cilium_bgp_graceful_restart: true"


@rule
def bgp_password_needs_bgp(config, nodes):
    """cilium_bgp_password only has an effect with Cilium BGP configured."""
    if is_set(config.cilium_bgp_password) and not cilium_bgp_configured(config):
        yield "cilium_bgp_password", f"requires Cilium BGP ({', '.join(BGP_KEYS)})"


@rule
def bgp_keepalive_below_hold_time(config, nodes):
    """cilium_bgp_keepalive_time is shorter than cilium_bgp_hold_time."""
    if config.cilium_bgp_keepalive_time >= config.cilium_bgp_hold_time:
        yield "cilium_bgp_keepalive_time", (
            f"{config.cilium_bgp_keepalive_time}s must be shorter than cilium_bgp_hold_time "
            f"({config.cilium_bgp_hold_time}s)")
