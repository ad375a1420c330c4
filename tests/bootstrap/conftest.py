"""Fixtures for the bootstrap tests: a project configured for the fake cluster's addresses, the fake
CLIs and a fake Kubernetes API server, and a way to run the real `inv bootstrap.*` against them.

The fake cluster numbers its nodes from 10.0.0.11 with the install disk /dev/sda and eth0's MAC
derived from the address, so nodes.yaml below describes exactly those machines.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, copy_project
from tests.fakes.cluster import VANILLA_SCHEMATIC
from tests.fakes.fixtures import FakeTools, fake_tools

SAMPLES = Path(__file__).resolve().parents[2] / "templates" / "samples"
TIME_SCALE_ENV = "CLUSTER_TEMPLATE_BOOTSTRAP_TIME_SCALE"
# (name, address, controller) as the fake cluster numbers them: controllers first.
NODES = (("k8s-0", "10.0.0.11", True), ("k8s-1", "10.0.0.12", False), ("k8s-2", "10.0.0.13", False))
CONTROLLER = NODES[0][1]
ADDRESSES = tuple(address for _, address, _ in NODES)
# A token unique to this run, so finding it in any output is never a coincidence.
CLOUDFLARE_TOKEN = f"cf-{uuid.uuid4().hex}{uuid.uuid4().hex}"


def fake_mac(address: str) -> str:
    """The MAC the fake talosctl reports for eth0 of the node at `address`."""
    third, fourth = (int(part) for part in address.split(".")[-2:])
    return f"bc:24:11:01:{third:02x}:{fourth:02x}"


CLUSTER_YAML = f"""\
node_cidr: "10.0.0.0/24"
cluster_api_addr: "10.0.0.20"
cluster_gateway_addr: "10.0.0.21"
cluster_dns_gateway_addr: "10.0.0.22"
cloudflare_gateway_addr: "10.0.0.23"
cloudflare_domain: "example.com"
cloudflare_token: "{CLOUDFLARE_TOKEN}"
repository_name: "someone/cluster"
repository_visibility: "private"
"""

# Three controllers (the fake names them k8s-0..k8s-2 too): an etcd cluster that survives one node.
HA_NODES = (("k8s-0", "10.0.0.11", True), ("k8s-1", "10.0.0.12", True), ("k8s-2", "10.0.0.13", True))


def nodes_yaml(nodes: tuple[tuple[str, str, bool], ...]) -> str:
    return "nodes:\n" + "".join(
        f'  - name: "{name}"\n    address: "{address}"\n    controller: {str(controller).lower()}\n'
        f'    disk: "/dev/sda"\n    mac_addr: "{fake_mac(address)}"\n    schematic_id: "{VANILLA_SCHEMATIC}"\n'
        for name, address, controller in nodes)


NODES_YAML = nodes_yaml(NODES)


def _configure_base(target: Path, nodes: str) -> Path:
    project = copy_project(target)
    result = project.inv("init")
    assert result.returncode == 0, result.stderr
    shutil.copy(SAMPLES / "cloudflare-tunnel.sample.json", project.root / "cloudflare-tunnel.json")
    project.write("cluster.yaml", CLUSTER_YAML)
    project.write("nodes.yaml", nodes)
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return project.root


@pytest.fixture(scope="session")
def configured_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project configured once for the fake cluster (private repository: a deploy key too)."""
    return _configure_base(tmp_path_factory.mktemp("bootstrap-base") / "repo", NODES_YAML)


@pytest.fixture(scope="session")
def configured_ha_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like configured_base, with three controllers (HA_NODES)."""
    return _configure_base(tmp_path_factory.mktemp("bootstrap-ha-base") / "repo", nodes_yaml(HA_NODES))


@pytest.fixture
def project(configured_base: Path, tmp_path: Path) -> Project:
    target = tmp_path / "repo"
    shutil.copytree(configured_base, target, symlinks=True)
    return Project(target)


@dataclass
class Bench:
    """A project, the fake CLIs and the fake API server, wired together."""

    project: Project
    tools: FakeTools
    api: Any

    @property
    def root(self) -> Path:
        return self.project.root

    def env(self, **extra: str) -> dict[str, str]:
        return {**self.tools.env, TIME_SCALE_ENV: "0.01", **extra}

    def inv(self, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
        return self.project.inv(*args, env=self.env(**extra), timeout=timeout)

    def output(self, result: subprocess.CompletedProcess) -> str:
        return result.stdout + result.stderr

    def secrets(self) -> dict[str, str]:
        """Secret values of this project that must never be printed."""
        age = next(line for line in (self.root / "age.key").read_text().splitlines()
                   if line.startswith("AGE-SECRET-KEY-"))
        deploy = (self.root / "github-deploy.key").read_text()
        body = [line for line in deploy.splitlines() if line and not line.startswith("-----")]
        return {"age key": age, "deploy key": max(body, key=len), "cloudflare token": CLOUDFLARE_TOKEN,
                "push token": (self.root / "github-push-token.txt").read_text().strip()}


def make_tools(tmp_path: Path, kube_api_url: str | None, **options: object) -> FakeTools:
    settings = {"controllers": 1, "workers": 2, "install_seconds": 0.3, "reboot_seconds": 0.1, **options}
    return fake_tools(tmp_path, kube_api_url=kube_api_url, **settings)  # type: ignore[arg-type]


def rename_fake_nodes(tools: FakeTools) -> None:
    """Give the fake's nodes the names of nodes.yaml (a cluster created `running` never read our configs)."""
    with tools.cluster.edit() as state:
        for node, (name, address, _) in zip(state["nodes"], NODES):
            assert node["ip"] == address
            node["hostname"] = name
        for member in state["etcd"]["members"]:
            member["hostname"] = next(name for name, address, _ in NODES if address == member["ip"])


@pytest.fixture
def bench(project: Project, tmp_path: Path):
    """A configured project, a fake cluster in maintenance mode and a fake API server for it."""
    from tests.fakes.kube_api import start_kube_api

    yield from _bench(project, tmp_path, start_kube_api)


@pytest.fixture
def running_bench(project: Project, tmp_path: Path):
    """Like `bench`, but the cluster already runs (installed, bootstrapped, CNI and Flux Ready)."""
    from tests.fakes.kube_api import start_kube_api

    yield from _bench(project, tmp_path, start_kube_api, stage="running")


@pytest.fixture
def ha_running_bench(configured_ha_base: Path, tmp_path: Path):
    """A running three-controller cluster (etcd on all three) and a project configured for it."""
    from tests.fakes.kube_api import start_kube_api

    target = tmp_path / "repo"
    shutil.copytree(configured_ha_base, target, symlinks=True)
    yield from _bench(Project(target), tmp_path, start_kube_api, stage="running", controllers=3, workers=0)


def _bench(project: Project, tmp_path: Path, start_kube_api, **options: object):
    tools = make_tools(tmp_path, None, **options)
    api = start_kube_api(tools.state_path)
    tools.overrides["FAKE_KUBE_API_URL"] = api.url
    tools.env["FAKE_KUBE_API_URL"] = api.url
    try:
        yield Bench(project, tools, api)
    finally:
        api.stop()
