"""Patch semantics: strategic merge, typed replace and append, `$patch: delete`, order and errors."""

from __future__ import annotations

import pytest

from cluster_template.talos import PatchError, render_machine_configs, validate_machine_config
from cluster_template.talos.patches import apply_patch, load_patch, parse_patch
from cluster_template.talos.yamlio import load_documents


def _base():
    return [
        {
            "version": "v1alpha1",
            "machine": {
                "certSANs": ["a"],
                "kubelet": {"image": "kubelet:v1", "extraArgs": {"one": "1"}},
                "network": {"interfaces": [{"interface": "eth0", "mtu": 1500, "vlans": [{"vlanId": 10, "mtu": 1500}]}]},
                "install": {"disk": "/dev/sda", "wipe": False},
            },
            "cluster": {
                "network": {"podSubnets": ["10.244.0.0/16"], "serviceSubnets": ["10.96.0.0/12"]},
                "apiServer": {
                    "admissionControl": [
                        {"name": "PodSecurity", "configuration": {"exemptions": {"namespaces": ["kube-system"]}}}
                    ],
                    "auditPolicy": {"kind": "Policy", "rules": [{"level": "Metadata"}]},
                },
            },
        },
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"},
        {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth0", "mtu": 9000, "up": True},
    ]


def _apply(text, documents=None):
    return apply_patch(documents if documents is not None else _base(), parse_patch(text, "test"))


# ----------------------------------------------------------------------------------- merge


def test_maps_merge_and_scalars_override():
    machine = _apply("machine:\n  kubelet:\n    image: kubelet:v2\n    extraArgs:\n      two: '2'\n")[0]["machine"]
    assert machine["kubelet"] == {"image": "kubelet:v2", "extraArgs": {"one": "1", "two": "2"}}
    assert machine["install"] == {"disk": "/dev/sda", "wipe": False}


def test_lists_are_appended():
    assert _apply("machine:\n  certSANs: [b, c]\n")[0]["machine"]["certSANs"] == ["a", "b", "c"]


def test_pod_and_service_subnets_are_replaced():
    network = _apply("cluster:\n  network:\n    podSubnets: [10.42.0.0/16]\n    serviceSubnets: [10.43.0.0/16]\n")[0]
    assert network["cluster"]["network"] == {"podSubnets": ["10.42.0.0/16"], "serviceSubnets": ["10.43.0.0/16"]}


def test_audit_policy_is_replaced():
    policy = _apply("cluster:\n  apiServer:\n    auditPolicy:\n      kind: Policy\n      rules: [{level: None}]\n")[0]
    assert policy["cluster"]["apiServer"]["auditPolicy"] == {"kind": "Policy", "rules": [{"level": "None"}]}


def test_admission_plugins_merge_by_name():
    text = (
        "cluster:\n  apiServer:\n    admissionControl:\n"
        "      - name: PodSecurity\n        configuration:\n          exemptions:\n            namespaces: [rook-ceph]\n"
        "      - name: EventRateLimit\n        configuration: {kind: Configuration}\n"
    )
    admission = _apply(text)[0]["cluster"]["apiServer"]["admissionControl"]
    assert [plugin["name"] for plugin in admission] == ["PodSecurity", "EventRateLimit"]
    assert admission[0]["configuration"]["exemptions"]["namespaces"] == ["kube-system", "rook-ceph"]


def test_legacy_interfaces_merge_by_name_and_vlans_by_id():
    text = (
        "machine:\n  network:\n    interfaces:\n"
        "      - interface: eth0\n        mtu: 9000\n        vlans:\n"
        "          - vlanId: 10\n            mtu: 9000\n          - vlanId: 20\n"
        "      - interface: eth1\n        dhcp: true\n"
    )
    interfaces = _apply(text)[0]["machine"]["network"]["interfaces"]
    assert [item["interface"] for item in interfaces] == ["eth0", "eth1"]
    assert interfaces[0]["mtu"] == 9000
    assert interfaces[0]["vlans"] == [{"vlanId": 10, "mtu": 9000}, {"vlanId": 20}]


def test_null_changes_nothing():
    assert _apply("machine:\n  install:\n    disk: null\n")[0]["machine"]["install"]["disk"] == "/dev/sda"


def test_shape_mismatch_is_an_error():
    with pytest.raises(PatchError, match="cannot merge a scalar into the list at machine.certSANs"):
        _apply("machine:\n  certSANs: nope\n")


def test_input_documents_are_not_modified():
    documents = _base()
    _apply("machine:\n  certSANs: [b]\n---\napiVersion: v1alpha1\nkind: HostnameConfig\n$patch: delete\n", documents)
    assert documents == _base()


# ----------------------------------------------------------------------------------- typed documents


def test_typed_document_replaces_the_one_with_the_same_kind_and_name():
    result = _apply("apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: node-1\n")
    assert result[1] == {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "hostname": "node-1"}
    assert len(result) == 3


def test_typed_document_with_another_name_is_appended():
    result = _apply("apiVersion: v1alpha1\nkind: LinkConfig\nname: eth1\nup: true\n")
    assert [doc.get("name") for doc in result] == [None, None, "eth0", "eth1"]


def test_new_kind_is_appended_in_patch_order():
    text = (
        "apiVersion: v1alpha1\nkind: ResolverConfig\nnameservers: [{address: 1.1.1.1}]\n---\n"
        "apiVersion: v1alpha1\nkind: TimeSyncConfig\nntp: {servers: [pool.ntp.org]}\n"
    )
    kinds = [doc.get("kind") for doc in _apply(text)]
    assert kinds == [None, "HostnameConfig", "LinkConfig", "ResolverConfig", "TimeSyncConfig"]


# ----------------------------------------------------------------------------------- deletes


def test_delete_a_map_key():
    result = _apply("machine:\n  kubelet:\n    extraArgs:\n      $patch: delete\n")
    assert result[0]["machine"]["kubelet"] == {"image": "kubelet:v1"}


def test_delete_then_merge_in_one_fragment():
    result = _apply("machine:\n  kubelet:\n    extraArgs:\n      $patch: delete\n  certSANs: [b]\n")
    assert "extraArgs" not in result[0]["machine"]["kubelet"] and result[0]["machine"]["certSANs"] == ["a", "b"]


def test_delete_a_list_item_by_field():
    result = _apply("cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        $patch: delete\n")
    assert result[0]["cluster"]["apiServer"]["admissionControl"] == []


def test_delete_a_whole_document():
    result = _apply("apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\n$patch: delete\n")
    assert [doc.get("kind") for doc in result] == [None, "HostnameConfig"]


def test_delete_a_field_of_a_typed_document():
    """The example from the Talos patching guide."""
    result = _apply("apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nmtu:\n  $patch: delete\n")
    assert result[2] == {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth0", "up": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("machine:\n  kubespan:\n    $patch: delete\n", "nothing to delete at machine.kubespan"),
        ("cluster:\n  apiServer:\n    admissionControl:\n      - name: Other\n        $patch: delete\n", "no item of"),
        ("apiVersion: v1alpha1\nkind: ResolverConfig\n$patch: delete\n", "no such document"),
        ("version: v1alpha1\n$patch: delete\n", "cannot be deleted"),
        (
            "machine:\n  network:\n    interfaces:\n      - interface: eth0\n        mtu:\n          $patch: delete\n",
            "cannot delete inside an item",
        ),
        ("apiVersion: v1alpha1\nkind: LinkConfig\nname: eth0\nup: false\nmtu:\n  $patch: delete\n", "may not set other fields"),
        ("machine:\n  kubelet:\n    $patch: replace\n", "unsupported directive"),
    ],
)
def test_bad_deletes_are_errors(text, message):
    with pytest.raises(PatchError, match=message):
        _apply(text)


# ----------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- op: add\n  path: /machine/x\n  value: 1\n", "JSON patches"),
        ("kind: LinkConfig\nname: x\n", "must be set together"),
        ("machin:\n  x: 1\n", "unknown top-level key 'machin'"),
        ("apiVersion: v1alpha1\nkind: LinkConfig\nname: a\n---\napiVersion: v1alpha1\nkind: LinkConfig\nname: a\n", "appears twice"),
        ("a: [\n", "invalid YAML"),
        ("just a string\n", "expected a mapping"),
    ],
)
def test_malformed_patches_are_refused(text, message):
    with pytest.raises(PatchError, match=message) as caught:
        parse_patch(text, "nodes[0].patches[1]")
    assert caught.value.origin == "nodes[0].patches[1]"


def test_file_patch_is_read_relative_to_the_base_dir(tmp_path):
    (tmp_path / "patches").mkdir()
    (tmp_path / "patches" / "p.yaml").write_text("machine:\n  certSANs: [z]\n")
    patch = load_patch("@./patches/p.yaml", tmp_path, "patches[0]")
    assert patch.documents == ({"machine": {"certSANs": ["z"]}},)
    assert "@./patches/p.yaml" in patch.origin


def test_missing_patch_file_is_an_error(tmp_path):
    with pytest.raises(PatchError, match="file not found") as caught:
        load_patch("@./nope.yaml", tmp_path, "controlPlane.patches[0]")
    assert caught.value.origin.startswith("controlPlane.patches[0]")


def test_unquoted_off_stays_a_string(tmp_path, example_bundle, schema_path):
    """Talos docs write `auto: off` unquoted; YAML 1.1 would make it a boolean."""
    talconfig = {
        "clusterName": "c", "endpoint": "https://10.0.0.1:6443", "talosVersion": "v1.12.0", "kubernetesVersion": "1.35.0",
        "nodes": [{"hostname": "n", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda",
                   "patches": ["apiVersion: v1alpha1\nkind: HostnameConfig\nauto: off\nhostname: custom\n"]}],
    }
    text = render_machine_configs(example_bundle, talconfig, tmp_path)["n"]
    assert 'auto: "off"\nhostname: custom\n' in text
    assert validate_machine_config(text, schema_path) == []


# ----------------------------------------------------------------------------------- layering


def test_patches_apply_global_then_role_then_node(tmp_path, example_bundle):
    def kubelet_arg(value):
        return f"machine:\n  kubelet:\n    extraArgs:\n      layer: {value}\n      {value}: 'yes'\n"

    talconfig = {
        "clusterName": "c", "endpoint": "https://10.0.0.1:6443", "talosVersion": "v1.12.0", "kubernetesVersion": "1.35.0",
        "patches": [kubelet_arg("global")],
        "controlPlane": {"patches": [kubelet_arg("controller")]},
        "worker": {"patches": [kubelet_arg("worker")]},
        "nodes": [
            {"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda",
             "patches": [kubelet_arg("node")]},
            {"hostname": "wk", "ipAddress": "10.0.0.2", "installDisk": "/dev/sda"},
        ],
    }
    configs = render_machine_configs(example_bundle, talconfig, tmp_path)
    controller = load_documents(configs["cp"])[0]["machine"]["kubelet"]["extraArgs"]
    worker = load_documents(configs["wk"])[0]["machine"]["kubelet"]["extraArgs"]
    assert controller == {"layer": "node", "global": "yes", "controller": "yes", "node": "yes"}
    assert list(controller) == ["layer", "global", "controller", "node"]
    assert worker == {"layer": "worker", "global": "yes", "worker": "yes"}


def test_node_typed_document_replaces_a_global_one(tmp_path, example_bundle):
    resolver = "apiVersion: v1alpha1\nkind: ResolverConfig\nnameservers:\n  - address: {}\n"
    talconfig = {
        "clusterName": "c", "endpoint": "https://10.0.0.1:6443", "talosVersion": "v1.12.0", "kubernetesVersion": "1.35.0",
        "patches": [resolver.format("1.1.1.1")],
        "nodes": [{"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda",
                   "patches": [resolver.format("9.9.9.9")]}],
    }
    documents = load_documents(render_machine_configs(example_bundle, talconfig, tmp_path)["cp"])
    resolvers = [doc for doc in documents if doc.get("kind") == "ResolverConfig"]
    assert resolvers == [{"apiVersion": "v1alpha1", "kind": "ResolverConfig", "nameservers": [{"address": "9.9.9.9"}]}]


def test_patch_error_names_the_node_patch(tmp_path, example_bundle):
    talconfig = {
        "clusterName": "c", "endpoint": "https://10.0.0.1:6443", "talosVersion": "v1.12.0", "kubernetesVersion": "1.35.0",
        "nodes": [{"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda",
                   "patches": ["machine: {}", "machine:\n  certSANs: {}\n"]}],
    }
    with pytest.raises(PatchError) as caught:
        render_machine_configs(example_bundle, talconfig, tmp_path)
    assert caught.value.origin == "nodes[0].patches[1]"
    assert "machine.certSANs" in str(caught.value)
