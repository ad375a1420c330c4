"""Objects that passed their schema checks are not validated again while object, schema and
validator are unchanged, and unchanged YAML is not parsed again; every problem is still found afresh."""

from __future__ import annotations

import re
import shutil

import pytest

from cluster_template.validate import objects, schemas, talos, yamldocs

from .conftest import CRD_SCHEMAS
from .test_validate_tree import ECHO_APP


@pytest.fixture
def counted(monkeypatch):
    """How many objects (by kind) went through a schema check."""
    calls: list[str] = []
    real = objects.check

    def check(handle, document, **kwargs):
        if not kwargs.get("prefix"):
            calls.append(document.get("kind") if isinstance(document, dict) else "?")
        return real(handle, document, **kwargs)

    monkeypatch.setattr(objects, "check", check)
    monkeypatch.setattr(talos, "check", check)
    return calls


def test_unchanged_objects_are_not_validated_again(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    first = tree.validate(cache_dir=cache)
    assert first.ok and counted
    checked_first = len(counted)
    counted.clear()
    second = tree.validate(cache_dir=cache)
    assert counted == [] and second.ok
    assert second.checked == first.checked and second.summary() == first.summary()
    assert checked_first > 5 and "Talos v1alpha1 patch" in first.summary()


def test_a_changed_object_is_validated_and_its_problem_found_every_time(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    tree.validate(cache_dir=cache)
    tree.replace(f"{ECHO_APP}/deployment.yaml", "          ports:", "          imagePullPolicyy: Always\n          ports:")
    for _ in range(2):
        counted.clear()
        report = tree.validate(cache_dir=cache)
        assert counted == ["Deployment"]  # the only object that changed
        assert [issue.path for issue in report.errors] == ["spec.template.spec.containers[0].imagePullPolicyy"]


def test_a_changed_schema_file_invalidates_what_passed_under_the_old_one(tree, tmp_path, counted):
    crds = tmp_path / "crds"
    shutil.copytree(CRD_SCHEMAS, crds)
    cache = tmp_path / "verdicts"
    assert tree.validate(schema_dir=crds, cache_dir=cache).ok
    schema_file = crds / "helm.toolkit.fluxcd.io" / "helmrelease_v2.json"
    text = schema_file.read_text()
    assert '"interval"' in text
    schema_file.write_text(text.replace('"interval"', '"intervall"'))
    schemas.load_json.cache_clear()  # one process reads a schema file once; a configure run is a new process
    schemas._file_identity.cache_clear()
    counted.clear()
    report = tree.validate(schema_dir=crds, cache_dir=cache)
    assert "HelmRelease" in counted
    assert any(issue.kind == "HelmRelease" for issue in report.errors)


def test_a_damaged_cache_is_ignored(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    tree.validate(cache_dir=cache)
    (cache / "schema-verdicts" / "passed.json").write_text('{"format": "schema-verdicts-1", "code": 1, "passed": [')
    counted.clear()
    assert tree.validate(cache_dir=cache).ok
    assert counted  # validated again in full


def issues(report) -> list[str]:
    """The errors as text, without the time and process id kubectl puts in its messages."""
    return [re.sub(r"E\d{4} \S+ +\d+ ", "", str(issue)) for issue in report.errors]


@pytest.fixture
def parsed(monkeypatch):
    """The texts the YAML parser really parsed (not read back from the cache)."""
    texts: list[str] = []
    real = yamldocs._parse

    def parse(text):
        texts.append(text)
        return real(text)

    monkeypatch.setattr(yamldocs, "_parse", parse)
    return texts


def test_unchanged_files_are_not_parsed_again_and_a_syntax_error_is_found_every_time(tree, tmp_path, parsed, counted):
    cache = tmp_path / "cache"
    first = tree.validate(cache_dir=cache)
    assert first.ok and parsed
    parsed.clear()
    assert tree.validate(cache_dir=cache).summary() == first.summary()
    assert parsed == [] and counted
    tree.replace(f"{ECHO_APP}/deployment.yaml", "          ports:", "          ports: [\n")
    uncached = issues(tree.validate())
    assert any(issue.startswith(f"{ECHO_APP}/deployment.yaml") and "YAML" in issue for issue in uncached)
    for _ in range(2):
        parsed.clear()
        assert issues(tree.validate(cache_dir=cache)) == uncached
        assert parsed and all("ports: [" in text for text in parsed)  # only the broken file is parsed


def test_each_read_of_a_cached_stream_is_a_copy_of_its_own(tmp_path):
    streams = yamldocs.ParsedStreams(tmp_path / "parsed")
    with streams.using():
        first = yamldocs.load_documents("a:\n  b: [1, 2]\n")
        first[0]["a"]["b"].append(3)
        assert yamldocs.load_documents("a:\n  b: [1, 2]\n") == [{"a": {"b": [1, 2]}}]
    streams.save()
    again = yamldocs.ParsedStreams(tmp_path / "parsed")
    with again.using():
        assert yamldocs.load_documents("a:\n  b: [1, 2]\n") == [{"a": {"b": [1, 2]}}]
    (tmp_path / "parsed").write_bytes(b"\x00garbage")
    with yamldocs.ParsedStreams(tmp_path / "parsed").using():
        assert yamldocs.load_documents("x: 1\n") == [{"x": 1}]
