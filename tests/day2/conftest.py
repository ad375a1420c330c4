"""Fixtures for the day-2 tests: a project copy whose nodes.yaml, talconfig, talosconfig and
kubeconfig describe a simulated cluster run by the fake talosctl/flux (and, where a test needs
Kubernetes, the fake API server), without running `inv configure`.

The simulated nodes run Talos `RUNNING` (v1.12.11); the talconfig pins `TARGET` (v1.12.12), so
every node is outdated unless a test says otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import Project, copy_project
from tests.fakes.cluster import VANILLA_SCHEMATIC, machine_config
from tests.fakes.fixtures import FakeTools, fake_kube, fake_tools  # noqa: F401 - fake_kube is a fixture

RUNNING = "v1.12.11"
TARGET = "v1.12.12"
CLUSTER_NAME = "kubernetes"

CLUSTER_YAML = """\
node_cidr: "10.0.0.0/24"
cluster_api_addr: "10.0.0.100"
cluster_gateway_addr: "10.0.0.101"
cluster_dns_gateway_addr: "10.0.0.102"
cloudflare_gateway_addr: "10.0.0.103"
cloudflare_domain: "example.com"
cloudflare_token: "cloudflare-token-for-tests"
repository_name: "someone/cluster"
"""


@dataclass
class Day2:
    """A project copy wired to a simulated cluster."""

    project: Project
    tools: FakeTools
    api: object = None  # the FakeKubeAPI, when started

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def cluster(self):
        return self.tools.cluster

    def inv(self, *args: str, timeout: float = 120, input: str | None = None):
        return self.project.inv(*args, env=dict(self.tools.overrides), timeout=timeout, input=input)

    def node_ip(self, name: str) -> str:
        return next(node["ip"] for node in self.cluster.nodes() if node["hostname"] == name)


def nodes_yaml(cluster_nodes: list[dict]) -> str:
    lines = ["nodes:"]
    for index, node in enumerate(cluster_nodes):
        lines += [f'  - name: "{node["hostname"]}"', f'    address: "{node["ip"]}"',
                  f'    controller: {"true" if node["role"] == "controlplane" else "false"}',
                  '    disk: "/dev/sda"', f'    mac_addr: "bc:24:11:00:01:{index:02x}"',
                  f'    schematic_id: "{VANILLA_SCHEMATIC}"']
    return "\n".join(lines) + "\n"


def talconfig_yaml(cluster_nodes: list[dict], *, talos_version: str = TARGET,
                   kubernetes_version: str = "v1.35.4") -> str:
    lines = [f"clusterName: {CLUSTER_NAME}", "endpoint: https://10.0.0.100:6443",
             f"talosVersion: {talos_version}", f"kubernetesVersion: {kubernetes_version}", "nodes:"]
    for node in cluster_nodes:
        lines += [f"  - hostname: {node['hostname']}", f"    ipAddress: {node['ip']}",
                  f"    controlPlane: {'true' if node['role'] == 'controlplane' else 'false'}",
                  "    installDisk: /dev/sda",
                  f"    talosImageURL: factory.talos.dev/metal-installer/{VANILLA_SCHEMATIC}"]
    return "\n".join(lines) + "\n"


def make_day2(tmp_path: Path, *, controllers: int = 1, workers: int = 0, kube=None,
              talos_version: str = TARGET, **cluster_options: object) -> Day2:
    """`kube` is the `fake_kube` fixture: given, a fake Kubernetes API server follows the simulated
    cluster and the project's kubeconfig points at it."""
    tools = fake_tools(tmp_path, controllers=controllers, workers=workers, stage="running",
                       talos_version=RUNNING, **cluster_options)
    api = kube(tools) if kube is not None else None
    project = copy_project(tmp_path / "repo")
    cluster_nodes = tools.cluster.nodes()
    project.write("cluster.yaml", CLUSTER_YAML)
    project.write("nodes.yaml", nodes_yaml(cluster_nodes))
    project.write("talos/talconfig.yaml", talconfig_yaml(cluster_nodes, talos_version=talos_version))
    tools.cluster.write_talosconfig(project.root / "talos/clusterconfig/talosconfig")
    for node in cluster_nodes:
        image = f"factory.talos.dev/metal-installer/{VANILLA_SCHEMATIC}:{talos_version}"
        project.write(f"talos/clusterconfig/{CLUSTER_NAME}-{node['hostname']}.yaml",
                      machine_config(node["role"], node["hostname"], image=image, cluster_name=CLUSTER_NAME,
                                     endpoint="https://10.0.0.100:6443", kubernetes_version="v1.35.4",
                                     secrets=tools.cluster.talos_secrets()))
    kubeconfig = api.kubeconfig if api is not None else tools.use_kubeconfig()
    (project.root / "kubeconfig").write_bytes(kubeconfig.read_bytes())
    os.chmod(project.root / "kubeconfig", 0o600)
    return Day2(project, tools, api)
