"""The talconfig subset: every key outside it is refused by name, values are checked and normalised."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from cluster_template.errors import ConfigError
from cluster_template.talos import TalconfigError, parse_talconfig, render_machine_configs
from cluster_template.schemas import SHIPPED_DIR
from cluster_template.talos.talconfig import NODE_KEYS, TOP_LEVEL_KEYS

from .conftest import fixture_talconfig

MINIMAL = {
    "clusterName": "home",
    "endpoint": "https://10.0.0.10:6443",
    "talosVersion": "1.12.0",
    "kubernetesVersion": "v1.35.0",
    "nodes": [{"hostname": "k8s-0", "ipAddress": "10.0.0.11", "controlPlane": True, "installDisk": "/dev/sda"}],
}


def _refused(data) -> dict[str, str]:
    with pytest.raises(TalconfigError) as caught:
        parse_talconfig(data, source="talos/talconfig.yaml")
    assert isinstance(caught.value, ConfigError)
    assert all(issue.file == "talos/talconfig.yaml" for issue in caught.value.issues)
    return {issue.key: issue.message for issue in caught.value.issues}


def _with(**changes):
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def _with_node(**changes):
    data = copy.deepcopy(MINIMAL)
    data["nodes"][0].update(changes)
    return data


def test_minimal_config_is_normalised():
    config = parse_talconfig(MINIMAL)
    assert config.talos_version == "v1.12.0" and config.kubernetes_version == "1.35.0"
    assert config.pod_subnets == ("10.244.0.0/16",) and config.service_subnets == ("10.96.0.0/12",)
    assert [node.hostname for node in config.controllers] == ["k8s-0"] and config.workers == ()


def test_unknown_top_level_key_is_refused_with_a_suggestion():
    problems = _refused(_with(clusterNmae="x"))
    assert list(problems) == ["clusterNmae"]
    assert "unknown key" in problems["clusterNmae"] and "did you mean 'clusterName'" in problems["clusterNmae"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (_with(allowSchedulingOnControlPlanes=True), "allowSchedulingOnControlPlanes"),
        (_with_node(nodeLabels={"a": "b"}), "nodes[0].nodeLabels"),
        (_with_node(machineSpec={"secureboot": False, "mode": "metal"}), "nodes[0].machineSpec.mode"),
        (_with(cniConfig={"name": "custom", "urls": ["https://x"]}), "cniConfig.urls"),
        (_with(controlPlane={"patches": [], "nodeLabels": {}}), "controlPlane.nodeLabels"),
        (_with_node(installDiskSelector={"serial": "x", "vendor": "y"}), "nodes[0].installDiskSelector.vendor"),
    ],
)
def test_keys_outside_the_subset_are_refused(data, key):
    problems = _refused(data)
    assert key in problems and "unknown key" in problems[key]


def test_supported_keys_exist_in_the_talhelper_schema():
    """The subset really is a subset: every accepted key is one talhelper defines."""
    schema_file = SHIPPED_DIR / "talhelper" / "talconfig.schema.json"
    if not schema_file.exists():
        pytest.skip(f"talhelper schema not found: {schema_file}")
    definitions = json.loads(schema_file.read_text())["$defs"]
    assert set(TOP_LEVEL_KEYS) <= set(definitions["TalhelperConfig"]["properties"])
    assert set(NODE_KEYS) <= set(definitions["Node"]["properties"])


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({k: v for k, v in MINIMAL.items() if k != "talosVersion"}, "talosVersion", "is required"),
        (_with(talosVersion="v1.13.0"), "talosVersion", "v1.12.x config contract"),
        (_with(talosVersion="latest"), "talosVersion", "not a version"),
        (_with(kubernetesVersion=1.35), "kubernetesVersion", "expected a string"),
        (_with(endpoint="10.0.0.10:6443"), "endpoint", "https URL"),
        (_with(endpoint="http://10.0.0.10:6443"), "endpoint", "https URL"),
        (_with(clusterName="../etc"), "clusterName", "output files"),
        (_with(clusterPodNets=["10.244.0.0/33"]), "clusterPodNets[0]", "not a CIDR"),
        (_with(cniConfig={"name": "cilium"}), "cniConfig.name", "flannel, custom, none"),
        (_with(patches="machine: {}"), "patches", "list of strings"),
        (_with(nodes=[]), "nodes", "non-empty list"),
        (_with_node(hostname="K8S_0"), "nodes[0].hostname", "RFC 1123"),
        (_with_node(ipAddress="k8s-0.lan"), "nodes[0].ipAddress", "not an IP address"),
        (_with_node(controlPlane="yes"), "nodes[0].controlPlane", "true or false"),
        (_with_node(installDisk="sda"), "nodes[0].installDisk", "device path"),
        (_with_node(installDiskSelector={"type": "floppy"}), "nodes[0].installDiskSelector.type", "ssd, hdd, nvme, sd"),
        (_with_node(talosImageURL="factory.talos.dev/installer/abc:v1.12.0"), "nodes[0].talosImageURL", "without tag"),
        (_with_node(talosImageURL="factory.talos.dev/installer/abc", machineSpec={"secureboot": True}),
         "nodes[0].talosImageURL", "installer-secureboot"),
        (_with_node(talosImageURL="factory.talos.dev/installer-secureboot/abc"), "nodes[0].talosImageURL", "not true"),
        (_with_node(controlPlane=False), "nodes", "controlPlane: true"),
    ],
)
def test_bad_values_are_named(data, key, fragment):
    problems = _refused(data)
    assert key in problems, problems
    assert fragment in problems[key]


def test_duplicate_hostnames_are_refused():
    data = copy.deepcopy(MINIMAL)
    data["nodes"].append({"hostname": "k8s-0", "ipAddress": "10.0.0.12", "installDisk": "/dev/sda"})
    assert "also used by nodes[0]" in _refused(data)["nodes[1].hostname"]


def test_every_problem_is_reported_at_once():
    data = _with(extra=1, talosVersion="v2.0.0")
    data["nodes"][0]["hostname"] = "Bad Name"
    assert set(_refused(data)) == {"extra", "talosVersion", "nodes[0].hostname"}


def test_multiple_ip_addresses_are_split():
    config = parse_talconfig(_with_node(ipAddress="10.0.0.11, fd00::11"))
    assert config.nodes[0].ip_addresses == ("10.0.0.11", "fd00::11")


def test_render_refuses_an_unknown_key_before_doing_anything(example_bundle, tmp_path):
    talconfig, directory = fixture_talconfig("one-plus-one")
    talconfig["nodes"][1]["networkInterfaces"] = []
    with pytest.raises(TalconfigError) as caught:
        render_machine_configs(example_bundle, talconfig, directory)
    assert caught.value.keys == ["nodes[1].networkInterfaces"]
    assert Path(caught.value.issues[0].file) == directory / "talconfig.yaml"
