"""`safepath.Inside` (one pass, each folder resolved once) refuses exactly what `safepath.inside`
refuses, on a tree with every kind of symlink the refusals are about; and the digest configure
records from the bytes it wrote is the one the up-to-date check reads back from the tree."""

from __future__ import annotations

import pytest

from cluster_template import fingerprint, outputs
from cluster_template.safepath import Inside, UnsafePath, inside

ENTRIES = ["kubernetes/apps/a.yaml", "kubernetes/apps/b.yaml", "kubernetes/out/a.yaml", "kubernetes/out",
           "kubernetes/in/a.yaml", "kubernetes/file-out", "kubernetes/file-in", "kubernetes/loop/a.yaml",
           "kubernetes/loop", "kubernetes/dangling", "kubernetes/new/deeper/a.yaml", "kubernetes", "x",
           "../x", "/etc/passwd", "a/../b", ".", "", "a\\b", "kubernetes/out/deeper/a.yaml",
           "kubernetes/in/../a.yaml", "kubernetes/./apps/a.yaml", "kubernetes/up/repo",
           "kubernetes/up/repo/kubernetes/apps/a.yaml", "kubernetes/up/outside/a.yaml"]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    (root / "kubernetes/apps").mkdir(parents=True)
    outside.mkdir()
    (outside / "a.yaml").write_text("outside\n")
    (root / "kubernetes/apps/a.yaml").write_text("a\n")
    (root / "kubernetes/out").symlink_to(outside, target_is_directory=True)
    (root / "kubernetes/in").symlink_to(root / "kubernetes/apps", target_is_directory=True)
    (root / "kubernetes/file-out").symlink_to(outside / "a.yaml")
    (root / "kubernetes/file-in").symlink_to(root / "kubernetes/apps/a.yaml")
    (root / "kubernetes/loop").symlink_to(root / "kubernetes/loop")
    (root / "kubernetes/dangling").symlink_to(tmp_path / "nowhere")
    (root / "kubernetes/up").symlink_to(tmp_path, target_is_directory=True)  # out, and back in by name
    return root


def outcome(check, entry):
    try:
        return ("ok", check(entry))
    except UnsafePath as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize("order", ["given", "reversed"])
def test_one_pass_refuses_exactly_what_each_path_alone_refuses(tree, order):
    entries = ENTRIES if order == "given" else ENTRIES[::-1]
    within = Inside(tree)  # one pass over all of them: the folder cache is shared
    alone = {entry: outcome(lambda e: inside(tree, e, source="src"), entry) for entry in entries}
    passed = {entry: outcome(lambda e: within(e, source="src"), entry) for entry in entries}
    assert passed == alone
    refused = {entry for entry, (verdict, _) in alone.items() if verdict == "refused"}
    assert {"kubernetes/out/a.yaml", "kubernetes/out", "kubernetes/file-out", "kubernetes/loop",
            "kubernetes/loop/a.yaml", "kubernetes/dangling", "../x", "kubernetes/out/deeper/a.yaml",
            "kubernetes/up/outside/a.yaml"} <= refused
    assert "kubernetes/up/repo" not in refused  # resolves to the root itself
    assert "kubernetes/in/a.yaml" not in refused and "kubernetes/new/deeper/a.yaml" not in refused


def test_a_symlink_planted_at_the_last_part_after_its_folder_was_resolved_is_refused(tree, tmp_path):
    within = Inside(tree)
    within("kubernetes/apps/a.yaml")
    (tree / "kubernetes/apps/b.yaml").symlink_to(tmp_path / "outside" / "a.yaml")
    with pytest.raises(UnsafePath, match="outside the repository"):
        within("kubernetes/apps/b.yaml")


def test_the_recorded_outputs_digest_is_the_one_read_back(tree):
    files = {"kubernetes/apps/a.yaml": b"a\n", "kubernetes/apps/c.yaml": b"c: 1\n", ".sops.yaml": b"rules: []\n"}
    manifest = outputs.manifest_text(sorted(files)).encode()
    (tree / outputs.MANIFEST_FILE).write_bytes(manifest)
    for path, content in files.items():
        (tree / path).write_bytes(content)
    assert fingerprint.written_outputs_digest(manifest, files) == fingerprint.outputs_digest(tree)
    (tree / "kubernetes/apps/c.yaml").write_bytes(b"c: 2\n")
    assert fingerprint.written_outputs_digest(manifest, files) != fingerprint.outputs_digest(tree)
    missing = dict(files)
    del missing[".sops.yaml"]
    assert fingerprint.written_outputs_digest(manifest, missing) != fingerprint.written_outputs_digest(manifest, missing)
