"""Proxmox VE infrastructure: the VMs OpenTofu creates for the nodes, the Proxmox API token, and the
R2 state backend (a Cloudflare Worker at tfstate.<cloudflare_domain>)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import HttpURL, read_by, secret
from ._shared import all_set, requires_values

PROXMOX_KEYS = ("proxmox_api_url", "proxmox_node")
TOKEN_KEYS = ("proxmox_api_token_id", "proxmox_api_token_secret")
SSH_DETAIL_KEYS = ("proxmox_ssh_key_file", "proxmox_ssh_host_key")
# The SSH settings are only used by the VM check of `inv infra.verify-nodes`.
VERIFY = read_by("inv infra.verify-nodes")


class VMSizing(Settings):
    """VM size; every field is optional so a level of the defaults chain may set only some."""

    # Defaults are given as `default=` here: the type checker reads only that keyword as a default,
    # and both classes are called without arguments (the `default_factory` of the keys below).

    cores: int | None = Field(default=None, ge=1, le=64, description="CPU cores per socket.")
    sockets: int | None = Field(default=None, ge=1, le=4, description="CPU sockets.")
    memory: int | None = Field(default=None, ge=1024, le=262144, description="Memory in MiB.")
    disk_size: int | None = Field(default=None, ge=32, le=4096, description="Disk size in GiB.")


class VMAdvanced(Settings):
    """Hardware settings shared by every VM (Talos-friendly defaults)."""

    bios: Literal["ovmf", "seabios"] = Field(
        default="ovmf", description="Firmware; ovmf is UEFI (needed for secure boot).")
    machine: Literal["q35", "i440fx"] = Field(default="q35", description="QEMU machine type.")
    cpu_type: str = Field(default="host", min_length=1, description="QEMU CPU type.")
    scsi_hw: Literal["virtio-scsi-pci", "virtio-scsi-single", "lsi"] = Field(
        default="virtio-scsi-pci", description="SCSI controller.")
    balloon: int = Field(default=0, ge=0, description="Minimum memory for ballooning in MiB; 0 disables it.")
    numa: bool = Field(default=True, description="Enable NUMA.")
    qemu_agent: bool = Field(default=True, description="Enable the QEMU guest agent (Talos has the extension).")
    net_queues: int = Field(default=4, ge=1, le=16, description="virtio-net queues.")
    disk_discard: bool = Field(default=True, description="Pass discard (TRIM) to the storage.")
    disk_ssd: bool = Field(default=True, description="Present the disk as an SSD.")
    tags: list[str] = Field(default=["kubernetes", "linux", "talos"], description="Proxmox tags of the VMs.")
    network_bridge: str = Field(default="vmbr0", min_length=1, description="Proxmox bridge the VM NIC is attached to.")
    ostype: str = Field(default="l26", min_length=1, description="Proxmox guest OS type (l26: Linux 2.6+).")
    disk_backup: bool = Field(
        default=False, description="Include the disk in Proxmox backup jobs (Talos is rebuilt from git).")
    disk_replicate: bool = Field(default=False, description="Replicate the disk with Proxmox (Kubernetes handles HA).")


class ProxmoxSettings(Settings):
    proxmox_api_url: HttpURL | None = Field(
        None, description="Proxmox API URL (https://pve:8006/api2/json); with proxmox_node enables the infrastructure.")
    proxmox_node: str | None = Field(None, min_length=1, description="Proxmox node the VMs are created on.")
    proxmox_api_token_id: str | None = secret(
        None, pattern=r"^.+@.+!.+$", description="Proxmox API token ID, user@realm!token-name.")
    proxmox_api_token_secret: str | None = secret(None, min_length=1, description="Proxmox API token secret.")
    proxmox_insecure: bool = Field(
        False, description="Skip TLS verification of the Proxmox API (its certificate is self-signed).")
    proxmox_vlan_mode: bool = Field(
        False, description="true: Proxmox tags node_vlan_tag (access port); false: Talos adds a VLAN interface (trunk).")
    proxmox_iso_storage: str = Field("local", min_length=1, description="Proxmox storage for the Talos ISO.")
    proxmox_disk_storage: str = Field("local-lvm", min_length=1, description="Proxmox storage for the VM disks.")
    proxmox_vm_defaults: VMSizing = Field(
        default_factory=VMSizing, description="VM size for every node, below the role defaults (built-in 4/1/8192/128).")
    proxmox_vm_controller_defaults: VMSizing = Field(
        default_factory=VMSizing, description="VM size of controllers (built-in 4 cores, 1 socket, 8192 MiB, 64 GiB).")
    proxmox_vm_worker_defaults: VMSizing = Field(
        default_factory=VMSizing, description="VM size of workers (built-in 8 cores, 1 socket, 16384 MiB, 256 GiB).")
    proxmox_vm_advanced: VMAdvanced = Field(default_factory=VMAdvanced, description="Hardware settings of every VM.")

    # -- SSH to the Proxmox host (`inv infra.verify-nodes` checks each VM runs) ----------------
    proxmox_ssh_host: str | None = Field(
        None, min_length=1, json_schema_extra=VERIFY,
        description="Proxmox host `inv infra.verify-nodes` logs in to over SSH to check that each node's VM "
                    "is running (`qm status`). Unset: that check is skipped.")
    proxmox_ssh_port: int = Field(22, ge=1, le=65535, json_schema_extra=VERIFY,
                                  description="SSH port of proxmox_ssh_host.")
    proxmox_ssh_user: str = Field(
        "root", min_length=1, json_schema_extra=VERIFY,
        description="SSH user on proxmox_ssh_host. `qm` needs root, so another user runs it with `sudo -n`.")
    proxmox_ssh_key_file: str | None = Field(
        None, min_length=1, json_schema_extra=VERIFY,
        description="Private key file for the SSH login (~ is expanded; relative to the repository). "
                    "Unset: the keys of ssh-agent and ~/.ssh.")
    proxmox_ssh_host_key: str | None = Field(
        None, pattern=r"^SHA256:[A-Za-z0-9+/]{43}$", json_schema_extra=VERIFY,
        description="Fingerprint (SHA256:...) of the host key to trust when proxmox_ssh_host is not in "
                    "~/.ssh/known_hosts; `ssh-keyscan HOST | ssh-keygen -lf -` prints it. A host key that "
                    "matches neither is refused.")

    # -- OpenTofu state backend -------------------------------------------------------------
    tfstate_username: str = Field("terraform", min_length=1, description="Basic-auth user of the state backend.")
    tfstate_password: str | None = secret(None, min_length=1, description="Basic-auth password of the state backend.")


def infrastructure_configured(config) -> bool:
    return all_set(config, PROXMOX_KEYS)


@rule
def proxmox_keys_together(config, nodes):
    yield from set_together(config, PROXMOX_KEYS, "Proxmox infrastructure")
    yield from set_together(config, TOKEN_KEYS, "Proxmox API token")
    if infrastructure_configured(config):
        yield from requires_values(config, (*TOKEN_KEYS, "tfstate_password"),
                                   "proxmox_api_url and proxmox_node are set")


@rule
def proxmox_ssh_keys_need_host(config, nodes):
    if not is_set(config.proxmox_ssh_host):
        for key in SSH_DETAIL_KEYS:
            if is_set(getattr(config, key)):
                yield key, "requires proxmox_ssh_host (the Proxmox host to log in to)"


@rule
def proxmox_vlan_mode_needs_tag(config, nodes):
    if config.proxmox_vlan_mode and not is_set(config.node_vlan_tag):
        yield "proxmox_vlan_mode", "requires node_vlan_tag (the VLAN Proxmox tags the VM NICs with)"
