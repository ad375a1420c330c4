"""Per-node machine configs: parity with talosctl's base documents, the fixtures, validity, determinism."""

from __future__ import annotations

import pytest

from cluster_template.talos import (
    TalconfigError,
    dump_secrets,
    load_secrets,
    render_machine_configs,
    validate_machine_config,
)
from cluster_template.talos.talconfig import VANILLA_SCHEMATIC_ID
from cluster_template.talos.yamlio import load_documents

from .conftest import fixture_talconfig

BASE_TALCONFIG = {
    # The inputs upstream used for its v1.12 stability fixtures.
    "clusterName": "base",
    "endpoint": "https://base:6443",
    "talosVersion": "v1.12.11",
    "kubernetesVersion": "1.28.0",
    "nodes": [
        {"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda"},
        {"hostname": "wk", "ipAddress": "10.0.0.2", "installDisk": "/dev/sda"},
    ],
}


def _paths(node, prefix=()):
    """Every key path of a document (lists are leaves)."""
    if isinstance(node, dict) and node:
        result = set()
        for key, value in node.items():
            result |= _paths(value, (*prefix, key))
        return result
    return {prefix}


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def _by_kind(text):
    documents = load_documents(text)
    return {(doc.get("kind", "v1alpha1"), doc.get("name")): doc for doc in documents}


@pytest.fixture(scope="module")
def base_configs(example_bundle, tmp_path_factory):
    return render_machine_configs(example_bundle, BASE_TALCONFIG, tmp_path_factory.mktemp("base"))


@pytest.mark.parametrize(("hostname", "example"), [("cp", "controlplane"), ("wk", "worker")])
def test_base_documents_match_talosctl(hostname, example, base_configs, example_config):
    """Same secrets and inputs as upstream's fixture: the same keys and values, except the known differences."""
    ours = load_documents(base_configs[hostname])
    theirs = load_documents(example_config[example])
    assert [doc.get("kind", "v1alpha1") for doc in ours] == [doc.get("kind", "v1alpha1") for doc in theirs]

    our_paths, their_paths = _paths(ours[0]), _paths(theirs[0])
    # persist is deprecated and rejected by the v1.12 schema; talosctl adds disk and image from flag defaults.
    assert their_paths - our_paths == {("persist",)}
    assert our_paths - their_paths == {("machine", "install", "disk"), ("machine", "install", "image")}
    for path in their_paths & our_paths:
        assert _get(ours[0], path) == _get(theirs[0], path), path

    assert theirs[1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"}
    assert ours[1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off", "hostname": hostname}


@pytest.mark.parametrize(("hostname", "example"), [("cp", "controlplane"), ("wk", "worker")])
def test_base_text_matches_talosctl_layout(hostname, example, base_configs, example_config):
    """Byte-level: talosctl's file, with the three known differences applied by hand, is our file."""
    expected = example_config[example].replace("persist: true\n", "")
    expected = expected.replace(
        "    install:\n", "    install:\n        disk: /dev/sda\n"
        f"        image: factory.talos.dev/metal-installer/{VANILLA_SCHEMATIC_ID}:v1.12.11\n"
    )
    expected = expected.replace("auto: stable\n", f'auto: "off"\nhostname: {hostname}\n')
    assert base_configs[hostname] == expected


def test_controlplane_and_worker_key_sets_differ_like_talosctl(base_configs, example_config):
    def difference(cp_text, worker_text):
        cp, worker = load_documents(cp_text)[0], load_documents(worker_text)[0]
        return _paths(cp) - _paths(worker), _paths(worker) - _paths(cp)

    assert difference(base_configs["cp"], base_configs["wk"]) == difference(
        example_config["controlplane"], example_config["worker"]
    )


@pytest.mark.parametrize("fixture", ["one-plus-one", "three-plus-three"])
def test_fixture_configs_validate_against_the_schema(fixture, generated_bundle, schema_path):
    talconfig, directory = fixture_talconfig(fixture)
    configs = render_machine_configs(generated_bundle, talconfig, directory)
    assert list(configs) == [node["hostname"] for node in talconfig["nodes"]]
    for hostname, text in configs.items():
        assert validate_machine_config(text, schema_path) == [], hostname


@pytest.mark.parametrize("fixture", ["one-plus-one", "three-plus-three"])
def test_fixture_configs_carry_the_talconfig(fixture, generated_bundle):
    talconfig, directory = fixture_talconfig(fixture)
    configs = render_machine_configs(generated_bundle, talconfig, directory)
    k8s_version = talconfig["kubernetesVersion"].removeprefix("v")
    for node in talconfig["nodes"]:
        documents = _by_kind(configs[node["hostname"]])
        v1 = documents[("v1alpha1", None)]
        machine, cluster = v1["machine"], v1["cluster"]
        is_controller = node.get("controlPlane", False)

        assert machine["type"] == ("controlplane" if is_controller else "worker")
        assert documents[("HostnameConfig", None)] == {
            "apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off", "hostname": node["hostname"],
        }
        assert machine["install"]["image"] == f"{node['talosImageURL']}:{talconfig['talosVersion']}"
        if "installDisk" in node:
            assert machine["install"]["disk"] == node["installDisk"] and "diskSelector" not in machine["install"]
        else:
            assert machine["install"]["diskSelector"] == node["installDiskSelector"] and "disk" not in machine["install"]
        if node.get("machineSpec", {}).get("secureboot"):
            assert "/metal-installer-secureboot/" in machine["install"]["image"]

        assert machine["kubelet"]["image"] == f"ghcr.io/siderolabs/kubelet:v{k8s_version}"
        assert machine["kubelet"]["nodeIP"]["validSubnets"]  # from the global patch
        assert machine["certSANs"] == talconfig["additionalMachineCertSans"]
        assert cluster["clusterName"] == talconfig["clusterName"]
        assert cluster["controlPlane"]["endpoint"] == talconfig["endpoint"]
        assert cluster["network"]["cni"] == {"name": "none"}
        assert cluster["network"]["podSubnets"] == talconfig.get("clusterPodNets", ["10.244.0.0/16"])
        assert cluster["network"]["serviceSubnets"] == talconfig.get("clusterSvcNets", ["10.96.0.0/12"])

        link = documents[("LinkConfig", "net0")]
        assert link["addresses"] == [{"address": f"{node['ipAddress']}/24"}]
        assert list(link["routes"][0]) == ["gateway"]  # no destination: the default route
        assert documents[("LinkAliasConfig", "net0")]["selector"]["match"].startswith("mac(link.permanent_addr) == ")
        assert ("ResolverConfig", None) in documents and ("TimeSyncConfig", None) in documents

        vips = [key for key in documents if key[0] == "Layer2VIPConfig"]
        if is_controller:
            assert len(vips) == 1 and documents[vips[0]]["link"] == "net0"
            assert cluster["allowSchedulingOnControlPlanes"] is False
            assert cluster["proxy"] == {"image": f"registry.k8s.io/kube-proxy:v{k8s_version}", "disabled": True}
            assert cluster["apiServer"]["certSANs"] == talconfig["additionalApiServerCertSans"]
            assert machine["ca"]["key"] and cluster["ca"]["key"] and "etcd" in cluster
        else:
            assert vips == []
            assert machine["ca"]["key"] == "" and cluster["ca"]["key"] == ""
            assert "allowSchedulingOnControlPlanes" not in cluster and "etcd" not in cluster


def test_role_patches_reach_only_their_role(generated_bundle):
    talconfig, directory = fixture_talconfig("three-plus-three")
    configs = render_machine_configs(generated_bundle, talconfig, directory)
    for hostname, text in configs.items():
        machine = _by_kind(text)[("v1alpha1", None)]["machine"]
        labels = machine.get("nodeLabels", {})
        if hostname in ("k8s-0", "k8s-1", "k8s-2"):
            assert "node-role.kubernetes.io/worker" not in labels
            assert "node.kubernetes.io/exclude-from-external-load-balancers" in labels
        else:
            assert labels == {"node-role.kubernetes.io/worker": ""}


def test_controller_admission_patch_merges_into_pod_security(generated_bundle):
    talconfig, directory = fixture_talconfig("three-plus-three")
    text = render_machine_configs(generated_bundle, talconfig, directory)["k8s-0"]
    admission = _by_kind(text)[("v1alpha1", None)]["cluster"]["apiServer"]["admissionControl"]
    assert len(admission) == 1
    assert admission[0]["configuration"]["exemptions"]["namespaces"] == ["kube-system", "rook-ceph"]
    assert admission[0]["configuration"]["defaults"]["enforce"] == "baseline"


def test_output_is_deterministic(generated_bundle):
    talconfig, directory = fixture_talconfig("three-plus-three")
    first = render_machine_configs(generated_bundle, talconfig, directory)
    second = render_machine_configs(generated_bundle, talconfig, directory)
    reloaded = render_machine_configs(load_secrets(dump_secrets(generated_bundle)), talconfig, directory)
    assert first == second == reloaded


def test_a_different_bundle_changes_only_secret_values(generated_bundle, example_bundle):
    talconfig, directory = fixture_talconfig("one-plus-one")
    ours = load_documents(render_machine_configs(generated_bundle, talconfig, directory)["k8s-ctrl-0"])
    other = load_documents(render_machine_configs(example_bundle, talconfig, directory)["k8s-ctrl-0"])
    assert _paths(ours[0]) == _paths(other[0])
    assert ours[0]["cluster"]["id"] == generated_bundle.cluster_id != other[0]["cluster"]["id"]


def test_default_installer_is_the_vanilla_factory_image(example_bundle, tmp_path):
    talconfig = {**BASE_TALCONFIG, "nodes": [
        {"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda"},
        {"hostname": "sb", "ipAddress": "10.0.0.2", "installDisk": "/dev/sda", "machineSpec": {"secureboot": True}},
    ]}
    configs = render_machine_configs(example_bundle, talconfig, tmp_path)
    images = {host: load_documents(text)[0]["machine"]["install"]["image"] for host, text in configs.items()}
    assert images == {
        "cp": f"factory.talos.dev/metal-installer/{VANILLA_SCHEMATIC_ID}:v1.12.11",
        "sb": f"factory.talos.dev/metal-installer-secureboot/{VANILLA_SCHEMATIC_ID}:v1.12.11",
    }


def test_ipv6_endpoint_gets_ipv6_default_networks(example_bundle, tmp_path):
    talconfig = {**BASE_TALCONFIG, "endpoint": "https://[fd00::10]:6443"}
    network = load_documents(render_machine_configs(example_bundle, talconfig, tmp_path)["cp"])[0]["cluster"]["network"]
    assert network["podSubnets"] == ["fc00:db8:10::/56"] and network["serviceSubnets"] == ["fc00:db8:20::/112"]


def test_node_without_install_target_is_refused(example_bundle, tmp_path):
    talconfig = {**BASE_TALCONFIG, "nodes": [{"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True}]}
    with pytest.raises(TalconfigError, match="no install target"):
        render_machine_configs(example_bundle, talconfig, tmp_path)


def test_a_patch_may_supply_the_install_target(example_bundle, tmp_path, schema_path):
    talconfig = {**BASE_TALCONFIG, "nodes": [{
        "hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True,
        "patches": ["machine:\n  install:\n    diskSelector:\n      type: nvme\n"],
    }]}
    text = render_machine_configs(example_bundle, talconfig, tmp_path)["cp"]
    assert load_documents(text)[0]["machine"]["install"]["diskSelector"] == {"type": "nvme"}
    assert validate_machine_config(text, schema_path) == []
