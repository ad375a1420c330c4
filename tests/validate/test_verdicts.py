"""Objects that passed their schema checks are not validated again while object, schema and
validator are unchanged; every problem is still found afresh."""

from __future__ import annotations

import shutil

import pytest

from cluster_template.validate import objects, schemas

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
    return calls


def test_unchanged_objects_are_not_validated_again(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    first = tree.validate(verdict_cache_dir=cache)
    assert first.ok and counted
    checked_first = len(counted)
    counted.clear()
    second = tree.validate(verdict_cache_dir=cache)
    assert counted == [] and second.ok
    assert second.checked == first.checked and second.summary() == first.summary()
    assert checked_first > 5


def test_a_changed_object_is_validated_and_its_problem_found_every_time(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    tree.validate(verdict_cache_dir=cache)
    tree.replace(f"{ECHO_APP}/deployment.yaml", "          ports:", "          imagePullPolicyy: Always\n          ports:")
    for _ in range(2):
        counted.clear()
        report = tree.validate(verdict_cache_dir=cache)
        assert counted == ["Deployment"]  # the only object that changed
        assert [issue.path for issue in report.errors] == ["spec.template.spec.containers[0].imagePullPolicyy"]


def test_a_changed_schema_file_invalidates_what_passed_under_the_old_one(tree, tmp_path, counted):
    crds = tmp_path / "crds"
    shutil.copytree(CRD_SCHEMAS, crds)
    cache = tmp_path / "verdicts"
    assert tree.validate(schema_dir=crds, verdict_cache_dir=cache).ok
    schema_file = crds / "helm.toolkit.fluxcd.io" / "helmrelease_v2.json"
    text = schema_file.read_text()
    assert '"interval"' in text
    schema_file.write_text(text.replace('"interval"', '"intervall"'))
    schemas.load_json.cache_clear()  # one process reads a schema file once; a configure run is a new process
    schemas._file_identity.cache_clear()
    counted.clear()
    report = tree.validate(schema_dir=crds, verdict_cache_dir=cache)
    assert "HelmRelease" in counted
    assert any(issue.kind == "HelmRelease" for issue in report.errors)


def test_a_damaged_cache_is_ignored(tree, tmp_path, counted):
    cache = tmp_path / "verdicts"
    tree.validate(verdict_cache_dir=cache)
    (cache / "passed.json").write_text('{"format": "schema-verdicts-1", "code": 1, "passed": [')
    counted.clear()
    assert tree.validate(verdict_cache_dir=cache).ok
    assert counted  # validated again in full
