"""Schema validation of machine configs: dispatch on kind, JSON paths, duplicates, Talos rules, caching."""

from __future__ import annotations

import pytest

from cluster_template.talos import render_machine_configs, validate_machine_config
from cluster_template.talos.validate import _schema
from cluster_template.talos.yamlio import dump_documents, load_documents

TALCONFIG = {
    "clusterName": "c",
    "endpoint": "https://10.0.0.1:6443",
    "talosVersion": "v1.12.11",
    "kubernetesVersion": "1.35.4",
    "nodes": [
        {"hostname": "cp", "ipAddress": "10.0.0.1", "controlPlane": True, "installDisk": "/dev/sda"},
        {"hostname": "wk", "ipAddress": "10.0.0.2", "installDisk": "/dev/sda"},
    ],
}


@pytest.fixture(scope="module")
def valid(example_bundle, tmp_path_factory):
    configs = render_machine_configs(example_bundle, TALCONFIG, tmp_path_factory.mktemp("validate"))
    return {host: load_documents(text) for host, text in configs.items()}


def _issues(documents, schema_path):
    return validate_machine_config(dump_documents(documents), schema_path)


def _planted(valid, host="cp"):
    import copy

    return copy.deepcopy(valid[host])


def test_generated_configs_are_valid(valid, schema_path):
    for documents in valid.values():
        assert _issues(documents, schema_path) == []


def test_wrong_type_is_reported_with_its_path(valid, schema_path):
    documents = _planted(valid)
    documents[0]["machine"]["install"]["disk"] = 42
    [issue] = _issues(documents, schema_path)
    assert (issue.document_index, issue.kind, issue.name, issue.path) == (0, "v1alpha1", None, "$.machine.install.disk")
    assert "is not of type 'string'" in issue.message


def test_unknown_field_in_a_typed_document(valid, schema_path):
    documents = _planted(valid)
    documents.append({"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "net0",
                      "addresses": [{"address": "10.0.0.1/24"}], "gateway": "10.0.0.254"})
    [issue] = _issues(documents, schema_path)
    assert (issue.document_index, issue.kind, issue.name, issue.path) == (2, "LinkConfig", "net0", "$")
    assert "'gateway' was unexpected" in issue.message


def test_pattern_violation_deep_in_a_list(valid, schema_path):
    documents = _planted(valid)
    documents.append({"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "net0",
                      "addresses": [{"address": "10.0.0.1/24"}, {"address": "not-an-ip"}]})
    [issue] = _issues(documents, schema_path)
    assert issue.path == "$.addresses[1].address"
    assert "does not match" in issue.message
    assert str(issue).startswith("document 2 (LinkConfig 'net0') at $.addresses[1].address:")


def test_enum_and_required_errors(valid, schema_path):
    documents = _planted(valid)
    documents[1] = {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "sometimes"}
    documents.append({"apiVersion": "v1alpha1", "kind": "Layer2VIPConfig", "link": "net0"})
    issues = {(issue.kind, issue.path): issue.message for issue in _issues(documents, schema_path)}
    assert "is not one of ['stable', 'off']" in issues[("HostnameConfig", "$.auto")]
    assert "'name' is a required property" in issues[("Layer2VIPConfig", "$")]


def test_unknown_kind_suggests_the_right_one(valid, schema_path):
    documents = _planted(valid)
    documents.append({"apiVersion": "v1alpha1", "kind": "LinkConfg", "name": "x"})
    [issue] = _issues(documents, schema_path)
    assert issue.path == "$.kind" and "did you mean 'LinkConfig'" in issue.message


def test_duplicate_documents_are_reported(valid, schema_path):
    documents = _planted(valid)
    vip = {"apiVersion": "v1alpha1", "kind": "Layer2VIPConfig", "name": "10.0.0.5", "link": "net0"}
    documents += [vip, dict(vip), {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable"}]
    messages = [(issue.document_index, issue.kind, issue.message) for issue in _issues(documents, schema_path)]
    assert (3, "Layer2VIPConfig", "duplicate document: same kind and name as document 2") in messages
    assert (4, "HostnameConfig", "duplicate document: same kind and name as document 1") in messages


def test_persist_from_talosctl_is_flagged(example_config, schema_path):
    issues = validate_machine_config(example_config["controlplane"], schema_path)
    assert [(issue.path, issue.message) for issue in issues if issue.path == "$"] == [
        ("$", "Additional properties are not allowed ('persist' was unexpected)")
    ]


def test_talos_rules_beyond_the_schema(valid, schema_path):
    worker = _planted(valid, "wk")
    worker[0]["machine"]["ca"]["key"] = valid["cp"][0]["machine"]["ca"]["key"]
    worker[0]["cluster"]["etcd"] = {"advertisedSubnets": ["10.0.0.0/24"]}
    del worker[0]["machine"]["install"]["disk"]
    worker[1] = {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "stable", "hostname": "x"}
    paths = {issue.path: issue.message for issue in _issues(worker, schema_path)}
    assert "not allowed on non-controlplane nodes" in paths["$.machine.ca.key"]
    assert "only allowed on control plane" in paths["$.cluster.etcd"]
    assert "disk or diskSelector" in paths["$.machine.install"]
    assert "cannot be set at the same time" in paths["$"]

    controller = _planted(valid, "cp")
    controller[0]["machine"]["ca"]["key"] = ""
    assert [issue.path for issue in _issues(controller, schema_path)] == ["$.machine.ca.key"]


def test_exactly_one_v1alpha1_document(valid, schema_path):
    issues = _issues(valid["cp"][1:], schema_path)
    assert [(issue.document_index, issue.message) for issue in issues] == [(None, "expected one v1alpha1 document, found 0")]


def test_unparseable_text_is_one_issue(schema_path):
    [issue] = validate_machine_config("machine: [\n", schema_path)
    assert issue.document_index is None and issue.message.startswith("invalid YAML")


def test_non_mapping_document(valid, schema_path):
    text = dump_documents(valid["cp"]) + "---\n- a list\n"
    [issue] = validate_machine_config(text, schema_path)
    assert (issue.document_index, issue.message) == (2, "a document must be a mapping")


def test_schema_and_validators_are_built_once(valid, schema_path):
    _issues(valid["cp"], schema_path)
    schema = _schema(str(schema_path.resolve()))
    validator = schema.validator("v1alpha1.Config")
    hits_before = _schema.cache_info().hits
    _issues(valid["wk"], schema_path)
    assert _schema.cache_info().hits > hits_before
    assert _schema(str(schema_path.resolve())) is schema
    assert schema.validator("v1alpha1.Config") is validator
