"""Core derivations: defaults that depend on other keys, node groups, and flags of the core set."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..config.base import is_set
from ..config.core import cilium_bgp_configured
from ..config.load import Config
from ..inputs import LocalInputs

INSTALLER_REPOSITORY = "factory.talos.dev/installer"


def nth_host(cidr: str, index: int) -> str:
    """The `index`-th address of `cidr` (0 is the network address)."""
    network = ipaddress.IPv4Network(cidr, strict=False)
    if not 0 <= index < network.num_addresses:
        raise ValueError(f"{cidr} has no address number {index}")
    return str(network[index])


def installer_image(schematic_id: str, secureboot: bool) -> str:
    """Image Factory installer reference for a node, without the version tag."""
    suffix = "-secureboot" if secureboot else ""
    return f"{INSTALLER_REPOSITORY}{suffix}/{schematic_id}"


def _node_entry(node: Any) -> dict[str, Any]:
    entry = node.model_dump()
    entry["talos_image"] = installer_image(node.schematic_id, node.secureboot)
    entry["install_disk_is_path"] = node.disk.startswith("/")
    return entry


def derive_core(config: Config, local: LocalInputs) -> dict[str, Any]:
    cluster = config.cluster
    context: dict[str, Any] = cluster.model_dump()
    nodes = [_node_entry(node) for node in config.nodes.nodes]

    context["nodes"] = nodes
    context["controllers"] = [node for node in nodes if node["controller"]]
    context["workers"] = [node for node in nodes if not node["controller"]]
    context["controller_count"] = len(context["controllers"])
    context["node_count"] = len(nodes)
    # Workloads run on the workers; with none, the controllers take them (Talos then allows it).
    context["schedulable_node_count"] = len(context["workers"]) or len(context["controllers"])

    context["node_default_gateway"] = cluster.node_default_gateway or nth_host(cluster.node_cidr, 1)
    context["node_cidr_prefix"] = ipaddress.IPv4Network(cluster.node_cidr).prefixlen
    context["coredns_addr"] = nth_host(cluster.cluster_svc_cidr, 10)

    # The seed's names (kept so a migrated cluster keeps its issued certificate): Flux's
    # ${SECRET_DOMAIN/./-} replaces the first dot only, so home.example.com -> home-example.com.
    context["wildcard_certificate_name"] = cluster.cloudflare_domain.replace(".", "-", 1) + "-production"
    context["wildcard_certificate_secret"] = context["wildcard_certificate_name"] + "-tls"

    context["cilium_bgp_enabled"] = cilium_bgp_configured(cluster)
    context["unifi_dns_enabled"] = is_set(cluster.unifi_host) and is_set(cluster.unifi_api_key)
    context["k8s_gateway_enabled"] = not context["unifi_dns_enabled"]
    context["spegel_enabled"] = len(nodes) > 1 if cluster.spegel_enabled is None else cluster.spegel_enabled

    private = cluster.repository_visibility == "private"
    host_path = f"github.com/{cluster.repository_name}.git"
    context["repository_url"] = f"ssh://git@{host_path}" if private else f"https://{host_path}"

    context.update(local.as_context())
    return context
