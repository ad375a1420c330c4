"""`inv configure` after a small edit: everything is rendered, but only what changed is encrypted and
written; the result is what a run from scratch writes, and invalid output is still refused whole."""

from __future__ import annotations

import re
import shutil

import pytest

from cluster_template import fingerprint, secretrecord
from cluster_template.ops.configure import configure
from cluster_template.ops.validation import as_configure_check
from cluster_template.run import Executor

from ..conftest import SCHEMA_DIR, Project
from .test_configure import decrypt, generated, without_caches

CLOUDFLARE_SECRET = "kubernetes/apps/default/secret.sops.yaml"
TALOS_SECRET = "talos/cluster-secret.sops.yaml"


def sops_calls(ex: Executor) -> list[tuple[str, str]]:
    """(action, file) of every sops command the run started."""
    calls = []
    for event in ex.events:
        if event.kind == "run" and "sops" in event.subject.split(" ", 1)[0]:
            action = "encrypt" if " --encrypt " in event.subject else "decrypt" if " --decrypt " in event.subject else "?"
            target = re.search(r"--filename-override (\S+)", event.subject) or re.search(r"(\S+)$", event.subject)
            calls.append((action, target.group(1)))
    return calls


def configure_in_process(project: Project, monkeypatch) -> tuple[Executor, object]:
    monkeypatch.setenv("CLUSTER_TEMPLATE_SCHEMA_DIR", str(SCHEMA_DIR))
    ex = Executor()
    result = configure(project.root, ex, confirm=lambda plan: True, validate_output=as_configure_check(ex))
    return ex, result


def set_key(project: Project, key: str, value: str) -> None:
    text = (project.root / "cluster.yaml").read_text()
    text, count = re.subn(rf"^{key}: .*$", f'{key}: "{value}"', text, flags=re.MULTILINE)
    assert count == 1
    (project.root / "cluster.yaml").write_text(text)


def test_a_one_key_edit_encrypts_only_the_secret_it_changes_and_decrypts_none(small, monkeypatch):
    assert small.inv("configure", "--yes").returncode == 0
    before = generated(small)
    set_key(small, "cloudflare_token", "rotated-cloudflare-token-0123456789")
    ex, result = configure_in_process(small, monkeypatch)
    assert sops_calls(ex) == [("encrypt", CLOUDFLARE_SECRET)]
    assert result.plan.update == [CLOUDFLARE_SECRET]
    after = generated(small)
    assert after[TALOS_SECRET] == before[TALOS_SECRET]
    assert "rotated-cloudflare-token-0123456789" in decrypt(small, CLOUDFLARE_SECRET)


def test_a_secret_changed_on_disk_is_not_trusted_from_the_record(small, monkeypatch):
    assert small.inv("configure", "--yes").returncode == 0
    original = (small.root / TALOS_SECRET).read_bytes()
    (small.root / TALOS_SECRET).write_bytes(original.replace(b"ENC[", b"ENC[X", 1))  # damaged by hand
    ex, result = configure_in_process(small, monkeypatch)
    assert ("encrypt", TALOS_SECRET) in sops_calls(ex)
    assert ("decrypt", str(small.root / CLOUDFLARE_SECRET)) not in sops_calls(ex)
    assert result.plan.update == [TALOS_SECRET]
    token = (small.root / "github-push-token.txt").read_text().strip()
    assert token in decrypt(small, TALOS_SECRET)


def test_a_record_made_with_another_age_key_is_not_trusted(small, monkeypatch):
    assert small.inv("configure", "--yes").returncode == 0
    state = fingerprint.read_state(small.root)
    rendered = {TALOS_SECRET: b"whatever\n"}
    other = secretrecord.record_key("AGE-SECRET-KEY-1OTHER")
    forged = secretrecord.record(other, rendered, {TALOS_SECRET: (small.root / TALOS_SECRET).read_bytes()},
                                 [TALOS_SECRET], b"rules")
    age = next(line for line in (small.root / "age.key").read_text().splitlines() if line.startswith("AGE-SECRET"))
    key = secretrecord.record_key(age)
    assert secretrecord.compare(small.root, forged, key, rendered, [TALOS_SECRET], b"rules").kept == {}
    assert secretrecord.compare(small.root, forged, key, {TALOS_SECRET: b"new\n"}, [TALOS_SECRET],
                                b"rules").changed == frozenset()
    assert secretrecord.compare(small.root, forged, other, rendered, [TALOS_SECRET], b"rules").kept != {}
    assert secretrecord.compare(small.root, forged, other, rendered, [TALOS_SECRET], b"other rules").kept == {}
    assert set(state[secretrecord.STATE_KEY]) == {CLOUDFLARE_SECRET, TALOS_SECRET}
    for damaged in (None, [], {TALOS_SECRET: "x"}, {TALOS_SECRET: [1, 2, 3]}, {TALOS_SECRET: ["a", "b"]}):
        verdict = secretrecord.compare(small.root, damaged, key, rendered, [TALOS_SECRET], b"rules")
        assert verdict.kept == {} and verdict.changed == frozenset()


def test_an_invalid_edit_after_a_run_is_refused_and_nothing_is_written(small):
    assert small.inv("configure", "--yes").returncode == 0
    settings = small.root / "templates/config/kubernetes/apps/default/settings.yaml.j2"
    settings.write_text(settings.read_text() + "spec:\n  not: a ConfigMap field\n")
    set_key(small, "cloudflare_token", "rotated-cloudflare-token-0123456789")
    before = without_caches(small.snapshot())
    result = small.inv("configure", "--yes")
    assert result.returncode != 0
    assert "the rendered output is invalid" in result.stderr + result.stdout
    assert "kubernetes/apps/default/settings.yaml" in result.stderr + result.stdout
    assert without_caches(small.snapshot()) == before  # no output, manifest, state or staging file changed
    assert not (small.root / ".configure-staging").exists()


@pytest.fixture
def sample_after_edit(configured_sample: Project) -> tuple[Project, dict[str, bytes], dict[str, bytes]]:
    """The configured sample after an edit of one plain key (`cluster_gateway_addr`) and one secret
    (`cloudflare_token`) and an incremental run: (project, outputs before the edit, outputs after)."""
    before = configured_sample.snapshot()
    set_key(configured_sample, "cluster_gateway_addr", "192.168.1.142")
    set_key(configured_sample, "cloudflare_token", "rotated-cloudflare-token-0123456789")
    result = configured_sample.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    return configured_sample, before, configured_sample.snapshot()


def test_an_incremental_run_writes_what_a_run_from_scratch_writes(sample_after_edit):
    project, before, after = sample_after_edit
    changed = sorted(path for path in after if not path.startswith(".inv/") and before.get(path) != after[path])
    assert "kubernetes/apps/network/envoy-gateway/config/gateways.yaml" in changed
    assert any(is_secret(path) for path in changed) and any(is_secret(path) for path in after if path not in changed)
    for path in changed:  # a secret is written again only when its plaintext changed
        if is_secret(path):
            assert decrypt_bytes(project, path, before[path]) != decrypt_bytes(project, path, after[path]), path
    for name in ("kubernetes", "talos", "bootstrap", "infrastructure", ".generated-files", ".sops.yaml", ".inv"):
        path = project.root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    scratch = project.inv("configure", "--yes")
    assert scratch.returncode == 0, scratch.stdout + scratch.stderr
    fresh = project.snapshot()
    outputs = [path for path in after if not path.startswith(".inv/")]
    assert sorted(path for path in fresh if not path.startswith(".inv/")) == sorted(outputs)
    for path in outputs:
        if is_secret(path):  # sops encrypts with fresh randomness
            assert decrypt(project, path) == decrypt_bytes(project, path, after[path]), path
        else:
            assert fresh[path] == after[path], path


def is_secret(path: str) -> bool:
    return path.endswith(".sops.yaml") and path != ".sops.yaml"


def decrypt_bytes(project: Project, path: str, content: bytes) -> str:
    copy = project.root / ".inv" / "compare" / path
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(content)
    try:
        return decrypt(project, str(copy.relative_to(project.root)))
    finally:
        shutil.rmtree(project.root / ".inv" / "compare")


def test_unchanged_files_are_searched_again_when_the_credentials_change(small):
    assert small.inv("configure", "--yes").returncode == 0
    settings = (small.root / "kubernetes/apps/default/settings.yaml").read_text()
    address = re.search(r'coredns: "([0-9.]+)"', settings).group(1)
    (small.root / "github-push-token.txt").write_text(address + "\n")  # now a credential in an unchanged file
    result = small.inv("configure", "--yes")
    assert result.returncode != 0
    assert "kubernetes/apps/default/settings.yaml" in result.stdout + result.stderr
    assert "credential" in result.stdout + result.stderr


def test_a_file_put_in_place_by_hand_is_searched_even_when_it_matches_the_render(small):
    small.write("templates/config/kubernetes/apps/default/extra.yaml.j2",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  token: #{ github_push_token }#\n")
    token = (small.root / "github-push-token.txt").read_text().strip()
    extra = small.root / "kubernetes/apps/default/extra.yaml"
    assert small.inv("configure", "--yes").returncode != 0  # refused: the token in a plain file
    (small.root / "templates/config/kubernetes/apps/default/extra.yaml.j2").unlink()
    assert small.inv("configure", "--yes").returncode == 0
    extra.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  token: {token}\n")
    small.write("templates/config/kubernetes/apps/default/extra.yaml.j2", extra.read_text())  # same bytes
    result = small.inv("configure", "--yes")
    assert result.returncode != 0
    assert "kubernetes/apps/default/extra.yaml" in result.stdout + result.stderr


def test_a_cache_folder_symlinked_outside_is_refused_and_nothing_is_written_there(small, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (small.root / ".inv").mkdir()
    (small.root / ".inv" / "cache").symlink_to(outside, target_is_directory=True)
    result = small.inv("configure", "--yes")
    assert result.returncode != 0
    assert "leads outside the repository" in result.stderr and "Traceback" not in result.stderr
    assert list(outside.iterdir()) == []
