"""Issue 12, items 6, 8, 9 and 10: sops runs without the operator's SOPS_* settings and its output
is checked for exactly the configured recipient; errors are one line, never a traceback, never a
secret; a swap that cannot complete is refused before the commit point; read-only tasks and dry
runs tell the truth about a pending swap."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from cluster_template import outputs
from cluster_template.errors import ClusterTemplateError
from cluster_template.run import Executor
from cluster_template.secrets import EncryptionError, check_encrypted, encrypt_outputs
from cluster_template.tools.sops import sops_command
from cluster_template.yamlload import YamlError

from .conftest import assert_one_line_error, assert_untouched

FOREIGN = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def recipients(path: Path) -> set[str]:
    from ruamel.yaml import YAML

    metadata = YAML(typ="safe").load(path.read_text())["sops"]
    assert not any(metadata.get(group) for group in ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault"))
    return {entry["recipient"] for entry in metadata["age"]}


def own_public_key(project) -> str:
    return (project.root / "age.key").read_text().splitlines()[0].split(": ")[1]


def test_operator_sops_settings_do_not_reach_sops(small, sentinel):
    foreign = {"SOPS_AGE_RECIPIENTS": FOREIGN, "SOPS_PGP_FP": "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
               "SOPS_AGE_KEY_FILE": str(sentinel)}
    result = small.inv("configure", "--yes", env=foreign)
    assert result.returncode == 0, result.stderr
    secrets = sorted(path for path in small.root.rglob("*.sops.yaml") if path.name != ".sops.yaml")
    assert secrets
    for path in secrets:
        assert recipients(path) == {own_public_key(small)}, path
    assert_untouched(sentinel)


def test_output_encrypted_for_anyone_else_is_refused(small, tmp_path):
    rules = tmp_path / ".sops.yaml"
    rules.write_text(f"creation_rules:\n  - age: {FOREIGN},{own_public_key(small)}\n")
    plaintext = b"stringData:\n  token: value-1234\n"
    ciphertext = subprocess.run([sops_command(), "--config", str(rules), "--encrypt", "--input-type", "yaml",
                                 "--output-type", "yaml", "/dev/stdin"], input=plaintext, capture_output=True,
                                check=True).stdout.decode()
    with pytest.raises(EncryptionError, match=FOREIGN):
        check_encrypted("kubernetes/x.sops.yaml", ciphertext, plaintext, own_public_key(small))


@pytest.mark.parametrize("dry", [False, True])
def test_invalid_rendered_secret_yaml_is_reported_without_the_secret(small, dry):
    secret = 'ab"cd-very-secret-value'
    rendered = {".sops.yaml": (small.root / "templates/config/.sops.yaml.j2").read_bytes(),
                "kubernetes/apps/x/secret.sops.yaml": f'stringData:\n  token: "{secret}"\n'.encode()}
    with pytest.raises(YamlError) as error:
        encrypt_outputs(Executor(dry=dry), small.root, rendered, age_public_key=own_public_key(small),
                        age_key_file=small.root / "age.key")
    assert "kubernetes/apps/x/secret.sops.yaml:2" in str(error.value)
    assert "very-secret" not in str(error.value) and "cd-" not in str(error.value)


def test_a_secret_file_with_two_documents_says_so(small):
    rendered = {".sops.yaml": (small.root / "templates/config/.sops.yaml.j2").read_bytes(),
                "kubernetes/apps/x/secret.sops.yaml": b"stringData:\n  a: one-4471\n---\nstringData:\n  b: two-5582\n"}
    with pytest.raises(YamlError) as error:
        encrypt_outputs(Executor(dry=True), small.root, rendered, age_public_key=own_public_key(small),
                        age_key_file=small.root / "age.key")
    assert "kubernetes/apps/x/secret.sops.yaml:3" in str(error.value)
    assert "more than one YAML document" in str(error.value)
    assert "4471" not in str(error.value) and "5582" not in str(error.value)


def set_cluster_key(project, line: str) -> None:
    cluster = project.root / "cluster.yaml"
    key = line.split(":")[0]
    kept = [text for text in cluster.read_text().splitlines() if not text.startswith(f"{key}:")]
    cluster.write_text("\n".join(kept) + f"\n{line}\n")


@pytest.mark.parametrize("line, shown", [
    ("cloudflare_token: 84629173550", "84629173550"),
    ('cloudflare_token: "tok en-7731"', "tok en-7731"),
    ('cloudflare_token: "   "', None),
    ("cloudflare_token: [secret-list-item-4411]", "secret-list-item-4411"),
])
def test_a_bad_secret_value_is_never_echoed(small, line, shown):
    set_cluster_key(small, line)
    for task in (("configure", "--yes"), ("--dry", "configure"), ("doctor",)):
        result = small.inv(*task)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "cloudflare_token" in result.stderr + result.stdout
        if shown:
            assert shown not in result.stderr + result.stdout, task


def test_unknown_non_string_keys_have_a_line(small):
    cluster = small.root / "cluster.yaml"
    lines = cluster.read_text().splitlines()
    cluster.write_text("\n".join(lines) + "\n123: x\ntrue: 1\n")
    result = small.inv("configure", "--yes")
    assert f"cluster.yaml:{len(lines) + 1}: 123: unknown key" in result.stderr
    assert f"cluster.yaml:{len(lines) + 2}: True: unknown key" in result.stderr


def test_hand_edited_talconfig_with_a_syntax_error(small):
    small.write("talos/talconfig.yaml", "clusterName: x\nnodes:\n  - hostname: [unclosed\n")
    result = small.inv("talos.generate-config")
    assert_one_line_error(result, "talos/talconfig.yaml:", "invalid YAML")


@pytest.mark.parametrize("log, fragment", [("missing-folder/events.jsonl", "does not exist"),
                                           ("/dev/full", "No space left on device")])
def test_event_log_problems_are_one_line(small, log, fragment):
    result = small.inv("configure", "--yes", env={"CLUSTER_TEMPLATE_EVENT_LOG": log})
    assert_one_line_error(result, fragment)


@pytest.mark.parametrize("state", ["[]", "{broken", "\"text\""])
def test_corrupt_state_file_means_a_full_run(small, state):
    assert small.inv("configure", "--yes").returncode == 0
    small.write(".inv/configure-state.json", state)
    result = small.inv("configure", "--yes")
    assert result.returncode == 0 and "done:" in result.stdout, result.stderr


def test_output_path_replaced_by_a_directory(small):
    assert small.inv("configure", "--yes").returncode == 0
    target = small.root / "kubernetes/apps/default/settings.yaml"
    target.unlink()
    (target / "inside").mkdir(parents=True)
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, "kubernetes/apps/default/settings.yaml: is a directory")
    assert not (small.root / outputs.STAGING_DIR).exists()


def test_unwritable_destination_is_refused_before_the_commit_point(small, monkeypatch):
    """As root every folder is writable, so the refusal is driven by os.access (the check under test)."""
    assert small.inv("configure", "--yes").returncode == 0
    before = small.snapshot()
    root = small.root
    new = {".sops.yaml": (root / ".sops.yaml").read_bytes(), "kubernetes/apps/default/settings.yaml": b"x: 1\n",
           "kubernetes/apps/new/file.yaml": b"y: 1\n"}
    ex = Executor()
    plan = outputs.plan_outputs(root, new)
    outputs.stage(ex, root, new)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != root / "kubernetes/apps" and real_access(path, mode))
    with pytest.raises(outputs.SwapError, match="kubernetes/apps/new/file.yaml: kubernetes/apps is not writable"):
        outputs.commit(ex, root, plan)
    assert not (root / outputs.STAGING_DIR / outputs.PLAN_FILE).exists()
    assert {k: v for k, v in small.snapshot().items() if not k.startswith(outputs.STAGING_DIR)} == before


def test_a_failing_move_after_the_commit_point_is_one_message_and_finished_next_time(small, monkeypatch):
    assert small.inv("configure", "--yes").returncode == 0
    root = small.root
    new = {".sops.yaml": (root / ".sops.yaml").read_bytes(), "kubernetes/apps/default/settings.yaml": b"x: 1\n"}
    ex = Executor()
    plan = outputs.plan_outputs(root, new)
    outputs.stage(ex, root, new)
    real_replace = os.replace

    def cross_device(source, target):
        if outputs.STAGING_DIR not in Path(target).parts:  # the moves into the tree, not the plan file
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", cross_device)
    with pytest.raises(outputs.SwapError, match="another filesystem.*inv configure"):
        outputs.commit(ex, root, plan)
    monkeypatch.setattr(os, "replace", real_replace)
    validate = small.inv("validate")
    assert_one_line_error(validate, "interrupted `configure` swap is pending", "nothing was validated")
    result = small.inv("configure", "--yes")
    assert result.returncode == 0 and "completed an interrupted `configure` swap" in result.stderr, result.stderr
    assert not (root / outputs.STAGING_DIR).exists()


def test_dry_run_says_would_and_leaves_the_staging_directory(small):
    assert small.inv("configure", "--yes").returncode == 0
    outputs.stage(Executor(), small.root, {"kubernetes/apps/default/settings.yaml": b"half: written\n"})
    result = small.inv("--dry", "configure", "--force")
    assert result.returncode == 0, result.stderr
    assert "would discard the staging directory" in result.stdout + result.stderr
    assert "discarded the staging" not in result.stdout + result.stderr
    assert (small.root / outputs.STAGING_DIR).is_dir()


def test_dry_run_leaves_a_live_runs_staging_alone(small):
    assert small.inv("configure", "--yes").returncode == 0
    outputs.stage(Executor(), small.root, {"kubernetes/apps/default/settings.yaml": b"being: staged\n"})
    with open(small.root / ".inv.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = small.inv("--dry", "configure", "--force")
    assert result.returncode == 0, result.stderr
    assert "leaves it alone" in result.stderr and "discard" not in result.stdout + result.stderr
    assert (small.root / outputs.STAGING_DIR / "kubernetes/apps/default/settings.yaml").read_bytes() == b"being: staged\n"


def test_library_errors_are_cluster_template_errors():
    assert issubclass(YamlError, ClusterTemplateError) and issubclass(outputs.SwapError, ClusterTemplateError)
