"""Fixtures for the infra namespace: a project configured with Proxmox, and credentials to look for."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Project, copy_project

SAMPLES = Path(__file__).resolve().parents[2] / "templates" / "samples"
SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"


@dataclass(frozen=True)
class Credentials:
    """Values unique to one test session, so finding one anywhere is never a coincidence."""

    tfstate_username: str
    tfstate_password: str
    proxmox_api_token_id: str
    proxmox_api_token_secret: str

    def values(self) -> list[str]:
        return [self.tfstate_username, self.tfstate_password, self.proxmox_api_token_id,
                self.proxmox_api_token_secret]


def new_credentials() -> Credentials:
    tag = uuid.uuid4().hex
    return Credentials(
        tfstate_username=f"state-user-{tag[:8]}",
        tfstate_password=f"state-pass-{tag}",
        proxmox_api_token_id=f"tofu-{tag[:6]}@pve!infra",
        proxmox_api_token_secret=str(uuid.uuid4()),
    )


def cluster_yaml(credentials: Credentials, *, network: str = "192.168.1", extra: str = "") -> str:
    return f"""\
node_cidr: "{network}.0/24"
cluster_api_addr: "{network}.20"
cluster_gateway_addr: "{network}.21"
cluster_dns_gateway_addr: "{network}.22"
cloudflare_gateway_addr: "{network}.23"
cloudflare_domain: "example.com"
cloudflare_token: "cloudflare-token-not-a-secret-here"
repository_name: "someone/cluster"
proxmox_api_url: "https://pve.example.com:8006/api2/json"
proxmox_node: "pve"
proxmox_api_token_id: "{credentials.proxmox_api_token_id}"
proxmox_api_token_secret: "{credentials.proxmox_api_token_secret}"
tfstate_username: "{credentials.tfstate_username}"
tfstate_password: "{credentials.tfstate_password}"
{extra}"""


def node_entry(name: str, address: str, *, controller: bool, mac: str, extra: str = "") -> str:
    return (f"  - name: \"{name}\"\n    address: \"{address}\"\n    controller: {str(controller).lower()}\n"
            f"    disk: \"/dev/sda\"\n    mac_addr: \"{mac}\"\n    schematic_id: \"{SCHEMATIC}\"\n{extra}")


TWO_NODES = "nodes:\n" + node_entry("k8s-0", "192.168.1.10", controller=True, mac="bc:24:11:00:00:10") \
    + node_entry("k8s-1", "192.168.1.11", controller=False, mac="bc:24:11:00:00:11")


def prepared_project(target: Path, cluster: str, nodes: str) -> Project:
    """A project copy after `inv init`, with the given cluster.yaml and nodes.yaml (not configured)."""
    project = copy_project(target)
    result = project.inv("init")
    assert result.returncode == 0, result.stderr
    shutil.copy(SAMPLES / "cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    project.write("cluster.yaml", cluster)
    project.write("nodes.yaml", nodes)
    return project


def configure(project: Project) -> None:
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    return new_credentials()


@pytest.fixture(scope="module")
def configured_infra(tmp_path_factory: pytest.TempPathFactory, credentials: Credentials) -> Path:
    """A project configured once per module with Proxmox enabled; tests work on copies of it."""
    project = prepared_project(tmp_path_factory.mktemp("infra-base") / "repo", cluster_yaml(credentials), TWO_NODES)
    configure(project)
    return project.root


@pytest.fixture
def infra_project(configured_infra: Path, tmp_path: Path) -> Project:
    target = tmp_path / "repo"
    shutil.copytree(configured_infra, target, symlinks=True)
    return Project(target)
