"""`nodes.yaml`: one entry per machine."""

from __future__ import annotations

from pydantic import AfterValidator, Field
from typing_extensions import Annotated

from .base import Settings, rule
from .types import DNSLabel, InstallDisk, IPv4, KernelModule

RESERVED_NODE_NAMES = ("global", "controller", "worker")


def _not_reserved(name: str) -> str:
    if name in RESERVED_NODE_NAMES:
        raise ValueError(f"'{name}' is reserved (patch folder names: {', '.join(RESERVED_NODE_NAMES)})")
    return name


class Node(Settings):
    name: Annotated[DNSLabel, AfterValidator(_not_reserved)] = Field(
        description="Host name of the node; a DNS label, not global/controller/worker.")
    address: IPv4 = Field(description="Static IPv4 address of the node, inside node_cidr.")
    controller: bool = Field(description="true for a control-plane node.")
    disk: InstallDisk = Field(
        description="Install disk: a device path (/dev/sda) or a disk serial (from `talosctl get disks --insecure`).")
    mac_addr: str = Field(
        pattern=r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$",
        description="MAC address of the node's NIC, lower-case (from `talosctl get links --insecure`).")
    schematic_id: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Talos Image Factory schematic ID (64 hex characters).")
    mtu: int = Field(1500, ge=1450, le=9000, description="MTU of the node's link.")
    secureboot: bool = Field(False, description="Install with the secure-boot installer image.")
    encrypt_disk: bool = Field(False, description="Encrypt STATE and EPHEMERAL with LUKS2 sealed by the TPM.")
    kernel_modules: list[KernelModule] = Field([], description="Extra kernel modules to load (module names, e.g. nvidia, zfs).")
    vm_id: int | None = Field(None, ge=100, le=999999999, description="Proxmox VM ID.")
    vm_cores: int | None = Field(None, ge=1, le=64, description="Proxmox VM cores (overrides the role default).")
    vm_sockets: int | None = Field(None, ge=1, le=4, description="Proxmox VM sockets (overrides the role default).")
    vm_memory: int | None = Field(None, ge=1024, le=262144, description="Proxmox VM memory in MiB (overrides the role default).")
    vm_disk_size: int | None = Field(None, ge=32, le=4096, description="Proxmox VM disk size in GiB (overrides the role default).")
    vm_startup_order: int | None = Field(None, ge=1, le=100, description="Proxmox start order. Default: position + 3.")
    vm_startup_delay: int | None = Field(None, ge=0, le=300, description="Seconds Proxmox waits after starting this VM. Default 15.")
    vm_shutdown_delay: int | None = Field(None, ge=0, le=600, description="Seconds Proxmox waits for shutdown. Default 60.")


class NodesConfig(Settings):
    nodes: list[Node] = Field(description="The machines of the cluster.")


@rule
def nodes_unique_and_controlled(config, nodes):
    """At least one node and one controller; node names, addresses and MACs are unique."""
    if not nodes.nodes:
        yield "nodes", "at least one node is required"
        return
    if not any(node.controller for node in nodes.nodes):
        yield "nodes", "at least one node must have controller: true"
    for field in ("name", "address", "mac_addr"):
        seen: dict[str, int] = {}
        for index, node in enumerate(nodes.nodes):
            value = getattr(node, field)
            if value in seen:
                yield f"nodes[{index}].{field}", f"'{value}' is already used by nodes[{seen[value]}]"
            seen.setdefault(value, index)


@rule
def nodes_inside_node_network(config, nodes):
    """Every node address lies inside node_cidr."""
    import ipaddress

    network = ipaddress.IPv4Network(config.node_cidr)
    for index, node in enumerate(nodes.nodes):
        if ipaddress.IPv4Address(node.address) not in network:
            yield f"nodes[{index}].address", f"{node.address} is not inside node_cidr {config.node_cidr}"


@rule
def disk_encryption_needs_secureboot(config, nodes):
    """encrypt_disk seals the key to the TPM, which Talos supports only on a secure-boot (UKI) install."""
    for index, node in enumerate(nodes.nodes):
        if node.encrypt_disk and not node.secureboot:
            yield f"nodes[{index}].encrypt_disk", "requires secureboot: true (the TPM-sealed key needs a secure-boot install)"
