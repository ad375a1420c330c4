"""The node inventory every task acts on (bootstrap and day-2 alike), and the talosctl client for it.

`nodes.yaml` is the inventory the operator edits, so a node is addressed by its name or address
there and nothing else is accepted. After `inv template.tidy` archived nodes.yaml, the rendered
`talos/talconfig.yaml` is the inventory: it lists the same names, addresses, roles and install
disks. Joined with the talconfig (`load_inventory`), a node also carries what `inv configure`
derived for it: the installer image (`<talosImageURL>:<talosVersion>`, secure-boot aware) an
upgrade targets, and the name of its machine config in `talos/clusterconfig/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ClusterTemplateError
from ..run import Executor
from ..tools.talosctl import Talosctl
from .talos_config import OUTPUT_DIR, TALCONFIG, TALOSCONFIG, read_talconfig

KUBECONFIG = Path("kubeconfig")
_SCHEMATIC = re.compile(r"^[0-9a-f]{64}$")


class UnknownNode(ClusterTemplateError):
    """A node was named (by address or name) that nodes.yaml does not list."""


class ClusterFilesMissing(ClusterTemplateError):
    """A file a day-2 operation needs (talosconfig, kubeconfig, a machine config) does not exist."""


@dataclass(frozen=True)
class ClusterNode:
    """One machine of nodes.yaml. `disk` is its install disk (a device path or a serial number);
    `image` (the target installer image) and `machine_config` are set when the inventory was loaded
    with the talconfig."""

    name: str
    address: str
    controller: bool
    disk: str = ""
    image: str = ""
    machine_config: Path | None = None

    @property
    def role(self) -> str:
        return "controller" if self.controller else "worker"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})"

    @property
    def target_version(self) -> str:
        return image_version(self.image) or ""

    @property
    def target_schematic(self) -> str | None:
        return image_schematic(self.image)

    def describe(self) -> str:
        return f"{self.name} ({self.address}, {self.role})"


@dataclass(frozen=True)
class Inventory:
    nodes: tuple[ClusterNode, ...]
    cluster_name: str = ""
    talos_version: str = ""
    kubernetes_version: str = ""

    @property
    def controllers(self) -> tuple[ClusterNode, ...]:
        return tuple(node for node in self.nodes if node.controller)

    @property
    def workers(self) -> tuple[ClusterNode, ...]:
        return tuple(node for node in self.nodes if not node.controller)

    def listing(self) -> str:
        return "\n".join(f"  {node.name:<20} {node.address:<16} {node.role}" for node in self.nodes)

    def select(self, *, ip: str | None = None, name: str | None = None) -> ClusterNode:
        """The node with this address and/or name; UnknownNode listing the valid nodes otherwise."""
        if not ip and not name:
            raise UnknownNode("name a node with --ip ADDRESS or --node NAME; nodes.yaml lists:\n" + self.listing())
        for node in self.nodes:
            if (not ip or node.address == ip) and (not name or node.name == name):
                return node
        asked = " and ".join(part for part in (f"address {ip}" if ip else "", f"name {name}" if name else "") if part)
        raise UnknownNode(f"no node with {asked} in nodes.yaml; the nodes are:\n" + self.listing())


def image_version(image: str) -> str | None:
    """The tag of an installer image reference (`...:v1.12.1` -> `v1.12.1`), or None."""
    reference, _, tag = image.rpartition(":")
    if not reference or "/" in tag or not tag:
        return None
    return tag if tag.startswith("v") else f"v{tag}"


def image_schematic(image: str) -> str | None:
    """The Image Factory schematic ID of an installer image, or None for any other registry."""
    reference = image.rpartition(":")[0] if image_version(image) else image
    last = reference.rsplit("/", 1)[-1]
    return last if _SCHEMATIC.match(last) else None


def normalise_version(version: str | None) -> str | None:
    if not version:
        return None
    return version if version.startswith("v") else f"v{version}"


def read_nodes(root: Path) -> Inventory:
    """The inventory from nodes.yaml (validated with cluster.yaml, as `inv configure` does).

    After `inv template.tidy` archived nodes.yaml, the rendered talos/talconfig.yaml is the
    inventory: it lists the same names, addresses and roles."""
    from ..config.load import NODES_FILE, load_config

    if not (root / NODES_FILE).is_file() and (root / TALCONFIG).is_file():
        talconfig = read_talconfig(root)
        return Inventory(tuple(ClusterNode(spec.hostname, spec.ip_addresses[0], spec.control_plane,
                                           disk=_install_disk(spec)) for spec in talconfig.nodes))
    config = load_config(root)
    return Inventory(tuple(ClusterNode(node.name, str(node.address), bool(node.controller), disk=str(node.disk))
                           for node in config.nodes.nodes))


def _install_disk(spec) -> str:
    """nodes.yaml's `disk` as the talconfig renders it: `installDisk` for a device path, else the
    serial of `installDiskSelector`."""
    return spec.install_disk or (spec.install_disk_selector or {}).get("serial", "")


def load_inventory(root: Path) -> Inventory:
    """nodes.yaml joined with the rendered talconfig; refuses when the two disagree (configure not run)."""
    listed = read_nodes(root)
    talconfig = read_talconfig(root)
    specs = {spec.hostname: spec for spec in talconfig.nodes}
    stale = [node.name for node in listed.nodes if node.name not in specs
             or node.address not in specs[node.name].ip_addresses
             or specs[node.name].control_plane != node.controller]
    if stale:
        raise ClusterTemplateError(
            f"talos/talconfig.yaml does not match nodes.yaml for {', '.join(stale)}; run `inv configure` "
            "(and `inv talos.generate-config`) first")
    nodes = tuple(
        replace(node, image=talconfig.installer_image(specs[node.name]),
                machine_config=root / OUTPUT_DIR / f"{talconfig.cluster_name}-{node.name}.yaml")
        for node in listed.nodes)
    return Inventory(nodes, talconfig.cluster_name, talconfig.talos_version, talconfig.kubernetes_version)


def talos_client(root: Path, ex: Executor, *, required: bool = True) -> Talosctl:
    """talosctl with the project's talosconfig, refused when it has not been generated unless
    `required` is False (the bootstrap, whose dry run plans before generate-config wrote it)."""
    path = root / TALOSCONFIG
    if required and not path.is_file():
        raise ClusterFilesMissing(f"{TALOSCONFIG} not found; run `inv talos.generate-config` (or `inv bootstrap.talos`) "
                                  "first")
    return Talosctl(ex, path)


def kubeconfig_path(root: Path) -> Path:
    path = root / KUBECONFIG
    if not path.is_file():
        raise ClusterFilesMissing(f"{KUBECONFIG} not found; `inv bootstrap.talos` fetches it once the cluster runs")
    return path
