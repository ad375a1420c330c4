"""The validator's parts on their own: Go regex translation, Flux substitution, schema handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster_template.run import Executor
from cluster_template.validate import ValidationIssue, validate_tree
from cluster_template.validate.goregex import UntranslatablePattern, compile_go, translate
from cluster_template.validate.neutral import SOPS_ENCRYPTED, is_neutral, variable_marker
from cluster_template.validate.patches import json_patch_problems, without_directives
from cluster_template.validate.schemas import SchemaStore, check
from cluster_template.validate.substitution import (Variables, substitute, substitution_disabled,
                                                    variables_from_object)
from cluster_template.validate.yamldocs import load_documents, without_sops

from .conftest import CRD_SCHEMAS

# -- Go regular expressions ------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, matches, rejects", [
    # A flag in the middle applies to the rest of its group, across alternatives, not beyond.
    (r"^(?i)(abort|warn)?$", ["abort", "WARN", "Warn", ""], ["sometimes", "abort\n"]),
    (r"^((?i)sun|mon)day$", ["SUNday", "MONday", "monday"], ["MONDAY", "tuesday"]),
    (r"a(?i)b|c", ["aB", "C", "c"], ["AB"]),
    # Unicode classes (Cilium's `^\PC*$`): no control or format characters.
    (r"^\PC*$", ["plain text é"], ["bell\x07", "zero\u200bwidth"]),
    # Go's \d and \w are ASCII-only.
    (r"^\d+\w$", ["12a"], ["١٢a", "12é"]),
    (r"^[[:alpha:]]+\z", ["abc"], ["ab1", "abc\n"]),
    (r"^\Qa.b\E$", ["a.b"], ["axb"]),
])
def test_go_patterns_keep_go_semantics(pattern, matches, rejects):
    compiled = compile_go(pattern)
    for text in matches:
        assert compiled.search(text), (pattern, text)
    for text in rejects:
        assert not compiled.search(text), (pattern, text)


def test_go_inline_flags_become_scoped_groups():
    assert translate(r"^((?i)sun|mon)day$") == (r"^((?i:sun)|(?i:mon))day\Z", False)
    assert translate(r"^\PC*$") == (r"^\PC*\Z", True)


@pytest.mark.parametrize("pattern", [r"(?U)a+", r"\C", r"[[:^alpha:]]", r"(a", r"a)"])
def test_untranslatable_go_patterns_raise(pattern):
    with pytest.raises(UntranslatablePattern):
        compile_go(pattern)


def test_untranslatable_pattern_is_an_error_naming_the_schema(tmp_path: Path):
    schema_dir = tmp_path / "crds"
    (schema_dir / "example.com").mkdir(parents=True)
    (schema_dir / "example.com" / "widget_v1.json").write_text(json.dumps({
        "type": "object",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"},
                       "spec": {"type": "object", "additionalProperties": False,
                                "properties": {"mode": {"type": "string", "pattern": "(?U)a+"}}}},
    }))
    root = tmp_path / "repo"
    (root / "kubernetes").mkdir(parents=True)
    (root / "kubernetes" / "widget.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec:\n  mode: aaa\n")
    report = validate_tree(root, executor=Executor(), schema_dir=schema_dir)
    [issue] = report.errors
    assert (issue.file, issue.path) == ("kubernetes/widget.yaml", "spec.mode")
    assert "cannot check pattern" in issue.message and "example.com/widget_v1.json" in issue.message


# -- schemas -------------------------------------------------------------------------------------


def test_validators_are_built_once_per_store():
    store = SchemaStore(CRD_SCHEMAS, "1.35.0")
    assert store.for_object("apps/v1", "Deployment") is store.for_object("apps/v1", "Deployment")
    assert store.for_object("helm.toolkit.fluxcd.io/v2", "HelmRelease") is \
        store.for_object("helm.toolkit.fluxcd.io/v2", "HelmRelease")
    assert store.for_object("example.com/v1", "Nothing") is None
    # A look-alike group must not pick the core schema of the same file name.
    assert store.for_object("apps.example.com/v1", "Deployment") is None


def test_crd_schemas_are_closed_at_the_top_and_in_metadata():
    store = SchemaStore(CRD_SCHEMAS, "1.35.0")
    handle = store.for_object("source.toolkit.fluxcd.io/v1", "OCIRepository")
    doc = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
           "metadata": {"name": "x"}, "spec": {"url": "oci://x", "interval": "1h"}, "spek": {}}
    assert [(p.path, p.message) for p in check(handle, doc)] == [
        ("spek", "Additional properties are not allowed ('spek' was unexpected)")]
    meta = check(store.object_meta(), {"name": "x", "labes": {}}, prefix=["metadata"])
    assert [p.path for p in meta] == ["metadata.labes"]


def test_neutral_markers_pass_value_checks_but_not_structure():
    store = SchemaStore(CRD_SCHEMAS, "1.35.0")
    handle = store.for_object("apps/v1", "Deployment")
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": variable_marker("REPLICAS"), "selector": {"matchLabels": {}},
                    "template": {"spec": {"containers": [{"name": "a", "portz": SOPS_ENCRYPTED}]}}}}
    assert [p.path for p in check(handle, doc)] == ["spec.template.spec.containers[0].portz"]


def test_int32_and_byte_formats_are_checked():
    store = SchemaStore(CRD_SCHEMAS, "1.35.0")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "not base64!"}}
    assert [p.path for p in check(store.for_object("v1", "Secret"), secret)] == ["data.a"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 2**31}]}}
    assert [p.path for p in check(store.for_object("v1", "Service"), service)] == ["spec.ports[0].port"]


# -- Flux substitution -----------------------------------------------------------------------------


def test_substitution_forms():
    variables = Variables()
    variables.set("DOMAIN", "example.com")
    variables.set("EMPTY", "")
    variables.set("SECRET", None)  # encrypted: exists, value unknown
    text = ("a: ${DOMAIN}\nb: ${EMPTY:=fallback}\nc: ${EMPTY=kept}\nd: ${UNSET:-dflt}\n"
            "e: $${DOMAIN}\nf: x.${SECRET}\ng: ${NOPE}\nh: ${bad expr}\n")
    result = substitute(text, variables)
    assert result.text == ("a: example.com\nb: fallback\nc: \nd: dflt\ne: ${DOMAIN}\n"
                           f"f: x.{variable_marker('SECRET')}\ng: {variable_marker('NOPE')}\nh: ${{bad expr}}\n")
    assert result.undefined == ["NOPE"]
    assert result.unsupported == ["${bad expr}"]


@pytest.mark.parametrize("expression, expected", [
    ("${D/./-}", "example-com"), ("${D//m/M}", "exaMple.coM"), ("${D^^}", "EXAMPLE.COM"), ("${D^}", "Example.com"),
    ("${#D}", "11"), ("${D:2:3}", "amp"), ("${D: -3}", "com"), ("${D#*.}", "com"), ("${D%.*}", "example"),
    ("${D%%m*}", "exa"), ("${S/./-}", variable_marker("S")),
])
def test_flux_envsubst_operations(expression, expected):
    variables = Variables()
    variables.set("D", "example.com")
    variables.set("S", None)
    result = substitute(expression, variables)
    assert (result.text, result.undefined, result.unsupported) == (expected, [], [])


def test_variables_from_configmap_and_secret():
    secret = without_sops({"kind": "Secret", "data": {"B64": "aGVsbG8="},
                           "stringData": {"ENC": "ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]", "PLAIN": "p"},
                           "sops": {"mac": "x", "version": "3.11.0"}})
    found = variables_from_object(secret)
    assert found.values == {"B64": "hello", "PLAIN": "p"}
    assert found.opaque == {"ENC"}
    assert variables_from_object({"kind": "ConfigMap", "data": {"A": "1"}}).values == {"A": "1"}


def test_substitution_can_be_disabled_per_object():
    assert substitution_disabled({"metadata": {"annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}})
    assert substitution_disabled({"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}})
    assert not substitution_disabled({"metadata": {"name": "x"}})


def test_disabled_substitution_keeps_variables_in_the_tree(tree):
    tree.replace("kubernetes/apps/default/echo/app/deployment.yaml", "  name: echo-sidecar",
                 "  name: echo-sidecar\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled")
    report = tree.validate()
    # `replicas: ${ECHO_REPLICAS}` now reaches the API server as a string, and the image tag
    # `${SIDECAR_TAG:=1.0.0}` literally (not a pinned version).
    assert sorted((issue.kind, issue.path) for issue in report.errors) == [
        ("Deployment", "spec.replicas"), ("Deployment", "spec.template.spec.containers[0].image")]


# -- documents -------------------------------------------------------------------------------------


def test_yaml_is_read_as_yaml_1_2_with_plain_values():
    [doc] = load_documents("a: on\nb: 2024-01-01\nc: 010\n")
    assert doc == {"a": "on", "b": "2024-01-01", "c": 10}


def test_sops_metadata_is_dropped_and_values_neutralized():
    doc = without_sops({"kind": "Secret", "stringData": {"k": "ENC[AES256_GCM,data:x,type:str]"},
                        "sops": {"mac": "m", "lastmodified": "t"}})
    assert doc == {"kind": "Secret", "stringData": {"k": SOPS_ENCRYPTED}}
    assert is_neutral(SOPS_ENCRYPTED)
    # A user field named `sops` is not SOPS metadata.
    assert without_sops({"sops": {"enabled": True}}) == {"sops": {"enabled": True}}


def test_patch_directives_and_json_patches():
    assert without_directives({"a": {"$patch": "delete"}, "b": 1, "$setElementOrder/x": []}) == \
        {"a": without_directives({"$patch": "delete"}), "b": 1}
    assert json_patch_problems([{"op": "add", "path": "/a", "value": 1}]) == []
    problems = json_patch_problems([{"op": "ad", "path": "a"}, {"op": "move", "path": "/b"}, "x"])
    assert [path for path, _ in problems] == [[0, "op"], [0, "path"], [1, "from"], [2]]


def test_issue_text():
    issue = ValidationIssue("kubernetes/apps/x/app/helmrelease.yaml", 0, "HelmRelease", "x", "echo",
                            "spec.chartReff", "Additional properties are not allowed ('chartReff' was unexpected)")
    assert str(issue) == ("kubernetes/apps/x/app/helmrelease.yaml[0] HelmRelease x/echo: spec.chartReff: "
                          "Additional properties are not allowed ('chartReff' was unexpected)")
    assert str(ValidationIssue("bootstrap/a.yaml", message="not valid YAML (line 3): x")) == \
        "bootstrap/a.yaml: not valid YAML (line 3): x"
