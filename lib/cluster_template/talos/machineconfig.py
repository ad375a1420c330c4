"""Per-node Talos machine configs, as `talosctl gen config` builds them for the v1.12 contract.

For each node of the talconfig:

1. the base documents `talosctl gen config` emits for its role, from the secrets bundle and the
   cluster-level keys (field order and values as in the upstream v1.12 stability fixtures):
   the v1alpha1 document and a `HostnameConfig`;
2. the node-level keys: `hostname` makes the `HostnameConfig` static (`auto: off` + `hostname`,
   as talhelper writes it), `installDisk`/`installDiskSelector` go to `machine.install`, and
   `talosImageURL:talosVersion` (or the vanilla Image Factory installer) to `machine.install.image`;
3. the patches, in order: global `patches`, then `controlPlane.patches` or `worker.patches`,
   then the node's `patches` (rules in `patches.py`).

Two deliberate differences from `talosctl gen config`: `persist: true` is not written (the field is
deprecated, unused by Talos 1.12 and absent from its JSON schema, which rejects it), and no doc
comments or commented examples are added. Nothing here reads a clock or a random source, so a
fixed bundle and talconfig always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigIssue
from .errors import TalconfigError
from .patches import V1ALPHA1, Patch, apply_patch, document_id, load_patch
from .secrets import SecretsBundle
from .talconfig import NodeSpec, TalConfig, parse_talconfig
from .yamlio import dump_documents

KUBELET_IMAGE = "ghcr.io/siderolabs/kubelet"
API_SERVER_IMAGE = "registry.k8s.io/kube-apiserver"
CONTROLLER_MANAGER_IMAGE = "registry.k8s.io/kube-controller-manager"
PROXY_IMAGE = "registry.k8s.io/kube-proxy"
SCHEDULER_IMAGE = "registry.k8s.io/kube-scheduler"
DNS_DOMAIN = "cluster.local"
KUBEPRISM_PORT = 7445
EXCLUDE_FROM_EXTERNAL_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def render_machine_configs(
    bundle: SecretsBundle,
    talconfig: Mapping[str, Any] | TalConfig,
    base_dir: str | Path,
    *,
    source: str | None = None,
) -> dict[str, str]:
    """The full multi-document machine config text of every node, keyed by hostname (talconfig order).

    `talconfig` is the parsed `talconfig.yaml` (or an already parsed `TalConfig`); `@file` patches
    are read relative to `base_dir`; `source` names the talconfig in error messages. Raises
    `TalconfigError` for an unsupported talconfig and `PatchError` for a patch that cannot be
    read or applied.
    """
    base = Path(base_dir)
    config = talconfig if isinstance(talconfig, TalConfig) else parse_talconfig(
        talconfig, source=source or str(base / "talconfig.yaml")
    )
    shared = {
        "global": _load_patches(config.patches, "patches", base),
        "controlplane": _load_patches(config.control_plane_patches, "controlPlane.patches", base),
        "worker": _load_patches(config.worker_patches, "worker.patches", base),
    }
    rendered: dict[str, str] = {}
    for node in config.nodes:
        patches = [
            *shared["global"],
            *shared[node.role],
            *_load_patches(node.patches, f"nodes[{node.index}].patches", base),
        ]
        documents = node_documents(bundle, config, node, patches)
        _check_install_target(documents, node, source or str(base / "talconfig.yaml"))
        rendered[node.hostname] = dump_documents(documents)
    return rendered


def node_documents(
    bundle: SecretsBundle, config: TalConfig, node: NodeSpec, patches: list[Patch]
) -> list[dict[str, Any]]:
    """The documents of one node: base documents, node-level keys, then `patches` in order."""
    documents = base_documents(bundle, config, node)
    for patch in patches:
        documents = apply_patch(documents, patch)
    return documents


def base_documents(bundle: SecretsBundle, config: TalConfig, node: NodeSpec) -> list[dict[str, Any]]:
    """The v1alpha1 document and the static `HostnameConfig`, before any patch."""
    v1alpha1 = _controlplane_document(bundle, config) if node.control_plane else _worker_document(bundle, config)
    install: dict[str, Any] = {}
    if node.install_disk:
        install["disk"] = node.install_disk
    if node.install_disk_selector:
        install["diskSelector"] = dict(node.install_disk_selector)
    install["image"] = config.installer_image(node)
    install.update(v1alpha1["machine"]["install"])
    v1alpha1["machine"]["install"] = install
    hostname = {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off", "hostname": node.hostname}
    return [v1alpha1, hostname]


def _load_patches(entries: tuple[str, ...], key: str, base_dir: Path) -> list[Patch]:
    return [load_patch(entry, base_dir, f"{key}[{index}]") for index, entry in enumerate(entries)]


def _check_install_target(documents: list[dict[str, Any]], node: NodeSpec, source: str) -> None:
    """Talos refuses a metal config without `install.disk` or `install.diskSelector`; say so early."""
    v1alpha1 = next(document for document in documents if document_id(document)[1] == V1ALPHA1)
    install = (v1alpha1.get("machine") or {}).get("install") or {}
    if not install.get("disk") and not install.get("diskSelector"):
        raise TalconfigError(
            [
                ConfigIssue(
                    source,
                    f"nodes[{node.index}]",
                    f"node {node.hostname!r} has no install target: set installDisk or installDiskSelector",
                )
            ]
        )


# ----------------------------------------------------------------------------------- base documents


def _images(version: str) -> dict[str, str]:
    return {
        "kubelet": f"{KUBELET_IMAGE}:v{version}",
        "apiServer": f"{API_SERVER_IMAGE}:v{version}",
        "controllerManager": f"{CONTROLLER_MANAGER_IMAGE}:v{version}",
        "proxy": f"{PROXY_IMAGE}:v{version}",
        "scheduler": f"{SCHEDULER_IMAGE}:v{version}",
    }


def _machine_section(bundle: SecretsBundle, config: TalConfig, machine_type: str, ca_key: str) -> dict[str, Any]:
    images = _images(config.kubernetes_version)
    return {
        "type": machine_type,
        "token": bundle.trustd_token,
        "ca": {"crt": bundle.os.crt, "key": ca_key},
        "certSANs": list(config.machine_cert_sans),
        "kubelet": {
            "image": images["kubelet"],
            "defaultRuntimeSeccompProfileEnabled": True,
            "disableManifestsDirectory": True,
        },
        "network": {},
        "install": {"wipe": False, "grubUseUKICmdline": True},
        "features": {
            "diskQuotaSupport": True,
            "kubePrism": {"enabled": True, "port": KUBEPRISM_PORT},
            "hostDNS": {"enabled": True, "forwardKubeDNSToHost": True},
        },
    }


def _cluster_network(config: TalConfig) -> dict[str, Any]:
    network: dict[str, Any] = {}
    if config.cni_name:
        network["cni"] = {"name": config.cni_name}
    network["dnsDomain"] = DNS_DOMAIN
    network["podSubnets"] = list(config.pod_subnets)
    network["serviceSubnets"] = list(config.service_subnets)
    return network


def _discovery() -> dict[str, Any]:
    return {"enabled": True, "registries": {"kubernetes": {"disabled": True}, "service": {}}}


def _controlplane_document(bundle: SecretsBundle, config: TalConfig) -> dict[str, Any]:
    images = _images(config.kubernetes_version)
    machine = _machine_section(bundle, config, "controlplane", bundle.os.key)
    machine["nodeLabels"] = {EXCLUDE_FROM_EXTERNAL_LB_LABEL: ""}

    cluster: dict[str, Any] = {
        "id": bundle.cluster_id,
        "secret": bundle.cluster_secret,
        "controlPlane": {"endpoint": config.endpoint},
        "clusterName": config.cluster_name,
        "network": _cluster_network(config),
        "token": bundle.bootstrap_token,
    }
    if bundle.aescbc_encryption_secret:  # bundles from contracts <= v1.2 (talhelper keeps them working)
        cluster["aescbcEncryptionSecret"] = bundle.aescbc_encryption_secret
    else:
        cluster["secretboxEncryptionSecret"] = bundle.secretbox_encryption_secret
    api_server: dict[str, Any] = {"image": images["apiServer"]}
    if config.api_server_cert_sans:
        api_server["certSANs"] = list(config.api_server_cert_sans)
    api_server["admissionControl"] = [_pod_security_admission()]
    api_server["auditPolicy"] = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}
    cluster.update(
        {
            "ca": {"crt": bundle.k8s.crt, "key": bundle.k8s.key},
            "aggregatorCA": {"crt": bundle.k8s_aggregator.crt, "key": bundle.k8s_aggregator.key},
            "serviceAccount": {"key": bundle.k8s_service_account_key},
            "apiServer": api_server,
            "controllerManager": {"image": images["controllerManager"]},
            "proxy": {"image": images["proxy"]},
            "scheduler": {"image": images["scheduler"]},
            "discovery": _discovery(),
            "etcd": {"ca": {"crt": bundle.etcd.crt, "key": bundle.etcd.key}},
        }
    )
    return {"version": V1ALPHA1, "debug": False, "machine": machine, "cluster": cluster}


def _worker_document(bundle: SecretsBundle, config: TalConfig) -> dict[str, Any]:
    cluster = {
        "id": bundle.cluster_id,
        "secret": bundle.cluster_secret,
        "controlPlane": {"endpoint": config.endpoint},
        "clusterName": config.cluster_name,
        "network": _cluster_network(config),
        "token": bundle.bootstrap_token,
        "ca": {"crt": bundle.k8s.crt, "key": ""},
        "discovery": _discovery(),
    }
    machine = _machine_section(bundle, config, "worker", "")
    return {"version": V1ALPHA1, "debug": False, "machine": machine, "cluster": cluster}


def _pod_security_admission() -> dict[str, Any]:
    # Keys sorted, as Go writes this free-form map.
    return {
        "name": "PodSecurity",
        "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1alpha1",
            "defaults": {
                "audit": "restricted",
                "audit-version": "latest",
                "enforce": "baseline",
                "enforce-version": "latest",
                "warn": "restricted",
                "warn-version": "latest",
            },
            "exemptions": {"namespaces": ["kube-system"], "runtimeClasses": [], "usernames": []},
            "kind": "PodSecurityConfiguration",
        },
    }
