"""Issue 12, items 1 and 2: nothing outside the repository is read, written, truncated or deleted,
whatever `.generated-files`, the staging plan or a planted symlink says."""

from __future__ import annotations

import json
import os

import pytest

from cluster_template import fingerprint, outputs
from cluster_template.run import Executor

from .conftest import assert_one_line_error, assert_untouched


def configured(small):
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    return small


@pytest.mark.parametrize("entry", ["../sentinel.txt", "{sentinel}", "age.key", "cluster.yaml", "README.md",
                                   "kubernetes/../age.key", "talos/talsecret.sops.yaml", "kubernetes"])
def test_generated_files_entries_outside_the_output_trees_are_refused(small, sentinel, entry):
    configured(small)
    entry = entry.format(sentinel=sentinel)
    (small.root / "README.md").write_text("readme\n")
    (small.root / "talos/talsecret.sops.yaml").write_text("bundle: kept\n")
    protected = {name: (small.root / name).read_bytes()
                 for name in ("age.key", "cluster.yaml", "README.md", "talos/talsecret.sops.yaml")}
    manifest = small.root / outputs.MANIFEST_FILE
    manifest.write_text(manifest.read_text() + entry + "\n")
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, outputs.MANIFEST_FILE, entry)
    assert_untouched(sentinel)
    assert {name: (small.root / name).read_bytes() for name in protected} == protected


def test_a_stale_output_inside_the_trees_is_still_removed(small, sentinel):
    configured(small)
    stale = small.root / "kubernetes/apps/old/gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("old: 1\n")
    manifest = small.root / outputs.MANIFEST_FILE
    manifest.write_text(manifest.read_text() + "kubernetes/apps/old/gone.yaml\n")
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and not stale.parent.exists()
    assert_untouched(sentinel)


def test_a_plan_that_removes_outside_is_refused_and_configure_replans(small, sentinel):
    configured(small)
    before = (small.root / "kubernetes/apps/default/settings.yaml").read_bytes()
    staging = small.root / outputs.STAGING_DIR
    staging.mkdir()
    plan = {"create": [], "update": [], "remove": ["../sentinel.txt", "age.key"], "manifest": []}
    (staging / outputs.PLAN_FILE).write_text(json.dumps(plan))
    with pytest.raises(outputs.SwapError, match="sentinel.txt"):
        outputs.recover(Executor(), small.root)
    locked = small.inv("template.tidy", "--yes")  # any task that takes the lock and reads the outputs
    assert_one_line_error(locked, outputs.PLAN_FILE, "inv configure")
    init = small.inv("init")  # init reads no outputs: it warns and goes on
    assert init.returncode == 0 and outputs.PLAN_FILE in init.stderr, init.stderr
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    assert "planned again" in result.stderr
    assert not staging.exists() and (small.root / "age.key").is_file()
    assert (small.root / "kubernetes/apps/default/settings.yaml").read_bytes() == before
    assert_untouched(sentinel)


@pytest.mark.parametrize("corrupt", ["{not json", "[]", '{"create": 1}', "\udcff"])
def test_a_corrupt_plan_never_gives_a_traceback(small, corrupt):
    configured(small)
    staging = small.root / outputs.STAGING_DIR
    staging.mkdir()
    (staging / outputs.PLAN_FILE).write_bytes(corrupt.encode(errors="surrogateescape"))
    status = small.inv("template.tidy", "--yes")
    assert_one_line_error(status, outputs.PLAN_FILE)
    assert small.inv("configure", "--yes").returncode == 0
    assert not staging.exists()


def test_outputs_digest_reads_nothing_outside(small, sentinel, monkeypatch):
    configured(small)
    manifest = small.root / outputs.MANIFEST_FILE
    manifest.write_text(manifest.read_text() + f"../sentinel.txt\n{sentinel}\n")
    read = []
    original = fingerprint.read_bounded
    monkeypatch.setattr(fingerprint, "read_bounded", lambda path, **kw: read.append(path) or original(path, **kw))
    fingerprint.outputs_digest(small.root)
    assert read and all(small.root.resolve() in path.resolve().parents for path in read), read
    assert not fingerprint.is_up_to_date(small.root)


def test_lock_file_symlink_is_refused_not_truncated(small, sentinel):
    lock = small.root / ".inv.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(sentinel)
    result = small.inv("init")
    assert_one_line_error(result, ".inv.lock", "symlink")
    assert_untouched(sentinel)


def test_output_directory_symlinked_outside_is_not_written_through(small, tmp_path, sentinel):
    configured(small)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    default = small.root / "kubernetes/apps/default"
    for path in default.iterdir():
        path.unlink()
    default.rmdir()
    default.symlink_to(outside, target_is_directory=True)
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, "kubernetes/apps/default", "outside the repository")
    assert sorted(os.listdir(outside)) == ["keep.txt"] and (outside / "keep.txt").read_text() == "keep\n"
    assert_untouched(sentinel)


@pytest.mark.parametrize("link", [outputs.STAGING_DIR, ".inv"])
def test_staging_and_state_symlinks_are_refused(small, tmp_path, sentinel, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    (small.root / link).symlink_to(outside, target_is_directory=True)
    before = small.snapshot()
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, link)
    assert os.listdir(outside) == []
    assert small.snapshot() == before
    assert_untouched(sentinel)
