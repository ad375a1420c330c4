"""The supported subset of talhelper's `talconfig.yaml`, parsed and checked.

Only these keys are accepted (anything else is refused by name, with a suggestion when it looks
like a typo), because the generator implements exactly them:

```yaml
clusterName: home                      # required
endpoint: https://10.0.0.10:6443       # required, https URL
talosVersion: v1.12.0                  # required, a v1.12 release (the generator's contract)
kubernetesVersion: v1.35.0             # required
additionalApiServerCertSans: []        # cluster.apiServer.certSANs (controllers)
additionalMachineCertSans: []          # machine.certSANs
clusterPodNets: [10.244.0.0/16]        # cluster.network.podSubnets
clusterSvcNets: [10.96.0.0/12]         # cluster.network.serviceSubnets
cniConfig: {name: none}                # cluster.network.cni.name: flannel | custom | none
patches: []                            # global patches
controlPlane: {patches: []}            # patches for controllers
worker: {patches: []}                  # patches for workers
nodes:
    - hostname: k8s-0                  # required, RFC 1123 label
      ipAddress: 10.0.0.11             # required, one IP or a comma-separated list
      controlPlane: true
      installDisk: /dev/sda            # and/or installDiskSelector
      installDiskSelector: {serial: ...}
      talosImageURL: factory.talos.dev/metal-installer/<schematic>   # no tag: talosVersion is appended
      machineSpec: {secureboot: false}
      patches: []
```
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigIssue
from .errors import TalconfigError

SUPPORTED_TALOS_MINOR = (1, 12)
FACTORY_REGISTRY = "factory.talos.dev"
# Schematic ID of the empty ("vanilla") schematic, `customization: {}`.
VANILLA_SCHEMATIC_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
DEFAULT_POD_SUBNETS = ("10.244.0.0/16",)
DEFAULT_SERVICE_SUBNETS = ("10.96.0.0/12",)
DEFAULT_IPV6_POD_SUBNETS = ("fc00:db8:10::/56",)
DEFAULT_IPV6_SERVICE_SUBNETS = ("fc00:db8:20::/112",)
CNI_NAMES = ("flannel", "custom", "none")
DISK_SELECTOR_KEYS = ("size", "name", "model", "serial", "modalias", "uuid", "wwid", "type", "busPath")
DISK_TYPES = ("ssd", "hdd", "nvme", "sd")

TOP_LEVEL_KEYS = (
    "clusterName",
    "endpoint",
    "talosVersion",
    "kubernetesVersion",
    "additionalApiServerCertSans",
    "additionalMachineCertSans",
    "clusterPodNets",
    "clusterSvcNets",
    "cniConfig",
    "patches",
    "controlPlane",
    "worker",
    "nodes",
)
NODE_KEYS = (
    "hostname",
    "ipAddress",
    "controlPlane",
    "installDisk",
    "installDiskSelector",
    "talosImageURL",
    "machineSpec",
    "patches",
)
REQUIRED_TOP_LEVEL = ("clusterName", "endpoint", "talosVersion", "kubernetesVersion", "nodes")

_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TALOS_VERSION = re.compile(r"^v?(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<pre>-[0-9A-Za-z.-]+)?$")
_KUBERNETES_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class NodeSpec:
    """One entry of `nodes`. `index` is its position, for error messages."""

    index: int
    hostname: str
    ip_addresses: tuple[str, ...]
    control_plane: bool
    install_disk: str | None
    install_disk_selector: dict[str, str] | None
    talos_image_url: str | None
    secureboot: bool
    patches: tuple[str, ...]

    @property
    def role(self) -> str:
        return "controlplane" if self.control_plane else "worker"


@dataclass(frozen=True)
class TalConfig:
    """The parsed talconfig. Versions are normalised: `v1.12.0` for Talos, `1.35.0` for Kubernetes."""

    cluster_name: str
    endpoint: str
    talos_version: str
    kubernetes_version: str
    api_server_cert_sans: tuple[str, ...]
    machine_cert_sans: tuple[str, ...]
    pod_subnets: tuple[str, ...]
    service_subnets: tuple[str, ...]
    cni_name: str | None
    patches: tuple[str, ...]
    control_plane_patches: tuple[str, ...]
    worker_patches: tuple[str, ...]
    nodes: tuple[NodeSpec, ...]

    @property
    def controllers(self) -> tuple[NodeSpec, ...]:
        return tuple(node for node in self.nodes if node.control_plane)

    @property
    def workers(self) -> tuple[NodeSpec, ...]:
        return tuple(node for node in self.nodes if not node.control_plane)

    def installer_image(self, node: NodeSpec) -> str:
        """`<talosImageURL>:<talosVersion>`, or the vanilla Image Factory installer when no URL is set.

        The factory reference is written out explicitly (metal platform, `-secureboot` when the
        node boots with SecureBoot) because the ghcr.io installer default goes away in Talos 1.14.
        """
        if node.talos_image_url:
            return f"{node.talos_image_url}:{self.talos_version}"
        flavour = "metal-installer-secureboot" if node.secureboot else "metal-installer"
        return f"{FACTORY_REGISTRY}/{flavour}/{VANILLA_SCHEMATIC_ID}:{self.talos_version}"


def parse_talconfig(data: Any, *, source: str = "talconfig.yaml") -> TalConfig:
    """Check `data` (the parsed YAML) against the supported subset; raise `TalconfigError` listing every problem."""
    problem = _Problems(source)
    if not isinstance(data, Mapping):
        raise TalconfigError([ConfigIssue(source, "", "expected a mapping at the top level")])
    _refuse_unknown(data, TOP_LEVEL_KEYS, "", problem)
    for key in REQUIRED_TOP_LEVEL:
        if data.get(key) in (None, ""):
            problem(key, "is required")

    cluster_name = _string(data, "clusterName", "", problem)
    if cluster_name and not _CLUSTER_NAME.match(cluster_name):
        problem("clusterName", "may hold only letters, digits, '.', '_' and '-' (it names the output files)")
    endpoint = _string(data, "endpoint", "", problem)
    if endpoint:
        _check_endpoint(endpoint, problem)
    talos_version = _talos_version(_string(data, "talosVersion", "", problem), problem)
    kubernetes_version = _string(data, "kubernetesVersion", "", problem)
    if kubernetes_version:
        if _KUBERNETES_VERSION.match(kubernetes_version):
            kubernetes_version = kubernetes_version.removeprefix("v")
        else:
            problem("kubernetesVersion", f"{kubernetes_version!r} is not a version like v1.35.0")

    ipv6 = _endpoint_is_ipv6(endpoint)
    pod_subnets = _cidrs(data, "clusterPodNets", problem) or (DEFAULT_IPV6_POD_SUBNETS if ipv6 else DEFAULT_POD_SUBNETS)
    service_subnets = _cidrs(data, "clusterSvcNets", problem) or (
        DEFAULT_IPV6_SERVICE_SUBNETS if ipv6 else DEFAULT_SERVICE_SUBNETS
    )
    cni_name = _cni_name(data.get("cniConfig"), problem)

    role_patches: dict[str, tuple[str, ...]] = {}
    for role in ("controlPlane", "worker"):
        section = data.get(role)
        if section is None:
            role_patches[role] = ()
        elif not isinstance(section, Mapping):
            problem(role, "expected a mapping (only `patches` is supported)")
            role_patches[role] = ()
        else:
            _refuse_unknown(section, ("patches",), f"{role}.", problem)
            role_patches[role] = _strings(section, "patches", f"{role}.", problem)

    api_server_cert_sans = _strings(data, "additionalApiServerCertSans", "", problem)
    machine_cert_sans = _strings(data, "additionalMachineCertSans", "", problem)
    global_patches = _strings(data, "patches", "", problem)
    nodes = _nodes(data.get("nodes"), problem)

    if problem.issues:
        raise TalconfigError(problem.issues)
    return TalConfig(
        cluster_name=cluster_name,
        endpoint=endpoint,
        talos_version=talos_version,
        kubernetes_version=kubernetes_version,
        api_server_cert_sans=api_server_cert_sans,
        machine_cert_sans=machine_cert_sans,
        pod_subnets=pod_subnets,
        service_subnets=service_subnets,
        cni_name=cni_name,
        patches=global_patches,
        control_plane_patches=role_patches["controlPlane"],
        worker_patches=role_patches["worker"],
        nodes=nodes,
    )


# ----------------------------------------------------------------------------------- helpers


class _Problems:
    """Collects issues; called as `problem(key, message)`."""

    def __init__(self, source: str):
        self.source = source
        self.issues: list[ConfigIssue] = []

    def __call__(self, key: str, message: str) -> None:
        self.issues.append(ConfigIssue(self.source, key, message))


def _refuse_unknown(section: Mapping[Any, Any], known: Sequence[str], prefix: str, problem: _Problems) -> None:
    for key in section:
        if key in known:
            continue
        hint = difflib.get_close_matches(str(key), known, n=1)
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        problem(f"{prefix}{key}", f"unknown key (supported here: {', '.join(known)}){suffix}")


def _string(section: Mapping[str, Any], key: str, prefix: str, problem: _Problems) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problem(f"{prefix}{key}", f"expected a string, got {type(value).__name__}")
        return ""
    return value


def _strings(section: Mapping[str, Any], key: str, prefix: str, problem: _Problems) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        problem(f"{prefix}{key}", "expected a list of strings")
        return ()
    result = []
    for index, item in enumerate(value):
        if isinstance(item, str) and item:
            result.append(item)
        else:
            problem(f"{prefix}{key}[{index}]", "expected a non-empty string")
    return tuple(result)


def _check_endpoint(endpoint: str, problem: _Problems) -> None:
    parts = urlsplit(endpoint)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "https" or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        problem("endpoint", f"{endpoint!r} is not an https URL like https://10.0.0.10:6443")


def _endpoint_is_ipv6(endpoint: str) -> bool:
    try:
        host = urlsplit(endpoint).hostname or ""
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def _talos_version(version: str, problem: _Problems) -> str:
    if not version:
        return ""
    match = _TALOS_VERSION.match(version)
    if not match:
        problem("talosVersion", f"{version!r} is not a version like v1.12.0")
        return ""
    if (int(match["major"]), int(match["minor"])) != SUPPORTED_TALOS_MINOR:
        wanted = "v{}.{}.x".format(*SUPPORTED_TALOS_MINOR)
        problem("talosVersion", f"{version!r}: this generator implements the {wanted} config contract only")
        return ""
    return "v" + version.removeprefix("v")


def _cidrs(section: Mapping[str, Any], key: str, problem: _Problems) -> tuple[str, ...]:
    values = _strings(section, key, "", problem)
    for index, value in enumerate(values):
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            problem(f"{key}[{index}]", f"{value!r} is not a CIDR")
    return values


def _cni_name(value: Any, problem: _Problems) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problem("cniConfig", "expected a mapping with `name`")
        return None
    _refuse_unknown(value, ("name",), "cniConfig.", problem)
    name = value.get("name")
    if name not in CNI_NAMES:
        problem("cniConfig.name", f"must be one of {', '.join(CNI_NAMES)}")
        return None
    return str(name)


def _nodes(value: Any, problem: _Problems) -> tuple[NodeSpec, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        problem("nodes", "expected a non-empty list of nodes")
        return ()
    nodes = [_node(index, item, problem) for index, item in enumerate(value)]
    parsed = tuple(node for node in nodes if node is not None)
    seen: dict[str, int] = {}
    for node in parsed:
        if node.hostname in seen:
            problem(f"nodes[{node.index}].hostname", f"{node.hostname!r} is also used by nodes[{seen[node.hostname]}]")
        seen.setdefault(node.hostname, node.index)
    if len(parsed) == len(value) and not any(node.control_plane for node in parsed):
        problem("nodes", "at least one node needs `controlPlane: true`")
    return parsed


def _node(index: int, item: Any, problem: _Problems) -> NodeSpec | None:
    prefix = f"nodes[{index}]."
    if not isinstance(item, Mapping):
        problem(f"nodes[{index}]", "expected a mapping")
        return None
    _refuse_unknown(item, NODE_KEYS, prefix, problem)
    before = len(problem.issues)

    hostname = _string(item, "hostname", prefix, problem)
    if not hostname:
        problem(f"{prefix}hostname", "is required")
    elif not _HOSTNAME.match(hostname):
        problem(f"{prefix}hostname", f"{hostname!r} is not a lowercase RFC 1123 host name")

    addresses = _ip_addresses(_string(item, "ipAddress", prefix, problem), f"{prefix}ipAddress", problem)

    control_plane = item.get("controlPlane", False)
    if not isinstance(control_plane, bool):
        problem(f"{prefix}controlPlane", "expected true or false")
        control_plane = False

    install_disk = _string(item, "installDisk", prefix, problem) or None
    if install_disk and not install_disk.startswith("/"):
        problem(f"{prefix}installDisk", f"{install_disk!r} is not a device path like /dev/sda")
    selector = _disk_selector(item.get("installDiskSelector"), f"{prefix}installDiskSelector", problem)

    image_url = _string(item, "talosImageURL", prefix, problem) or None
    secureboot = _secureboot(item.get("machineSpec"), f"{prefix}machineSpec", problem)
    if image_url:
        _check_image_url(image_url, secureboot, f"{prefix}talosImageURL", problem)

    patches = _strings(item, "patches", prefix, problem)
    if len(problem.issues) != before:
        return None
    return NodeSpec(
        index=index,
        hostname=hostname,
        ip_addresses=addresses,
        control_plane=control_plane,
        install_disk=install_disk,
        install_disk_selector=selector,
        talos_image_url=image_url,
        secureboot=secureboot,
        patches=patches,
    )


def _ip_addresses(value: str, key: str, problem: _Problems) -> tuple[str, ...]:
    if not value:
        problem(key, "is required")
        return ()
    addresses = tuple(part.strip() for part in value.split(","))
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            problem(key, f"{address!r} is not an IP address")
    return addresses


def _disk_selector(value: Any, key: str, problem: _Problems) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        problem(key, "expected a non-empty mapping")
        return None
    _refuse_unknown(value, DISK_SELECTOR_KEYS, f"{key}.", problem)
    selector: dict[str, str] = {}
    for name, item in value.items():
        if name not in DISK_SELECTOR_KEYS:
            continue
        if not isinstance(item, str) or not item:
            problem(f"{key}.{name}", "expected a non-empty string")
            continue
        if name == "type" and item not in DISK_TYPES:
            problem(f"{key}.type", f"must be one of {', '.join(DISK_TYPES)}")
            continue
        selector[str(name)] = item
    return selector


def _secureboot(value: Any, key: str, problem: _Problems) -> bool:
    if value is None:
        return False
    if not isinstance(value, Mapping):
        problem(key, "expected a mapping (only `secureboot` is supported)")
        return False
    _refuse_unknown(value, ("secureboot",), f"{key}.", problem)
    secureboot = value.get("secureboot", False)
    if not isinstance(secureboot, bool):
        problem(f"{key}.secureboot", "expected true or false")
        return False
    return secureboot


def _check_image_url(url: str, secureboot: bool, key: str, problem: _Problems) -> None:
    last = url.rstrip("/").rsplit("/", 1)[-1]
    if "@" in url or ":" in last or "/" not in url:
        problem(key, f"{url!r} must be an image repository without tag or digest (talosVersion is appended)")
        return
    secureboot_installer = any(part.endswith("installer-secureboot") for part in url.split("/"))
    if secureboot and not secureboot_installer:
        problem(key, "machineSpec.secureboot is true, so the installer must be a `*-installer-secureboot` image")
    elif not secureboot and secureboot_installer:
        problem(key, "is a SecureBoot installer, but machineSpec.secureboot is not true")
