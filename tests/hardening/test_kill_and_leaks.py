"""Interrupted runs never leave a mix of old and new outputs or a plaintext secret; no secret value
appears in any output, log or dry-run plan; two mutating tasks never interleave."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cluster_template import outputs
from cluster_template.run import Executor

from ..conftest import INV, SCHEMA_DIR, Project

GENERATED_ROOTS = ("kubernetes/", "talos/", "bootstrap/", "infrastructure/", ".sops.yaml", outputs.MANIFEST_FILE)
NEW_TOKEN = "rotated-cloudflare-token-7f3a9c"


def generated(project: Project) -> dict[str, bytes]:
    return {path: data for path, data in project.snapshot().items() if path.startswith(GENERATED_ROOTS)}


def comparable(project: Project, files: dict[str, bytes]) -> dict[str, bytes]:
    """`files` with each secret replaced by its plaintext: sops gives new ciphertext every time it
    encrypts, so two runs of the same configuration agree on plaintext only."""
    from cluster_template.secrets import is_secret_path
    from cluster_template.tools.sops import decrypt

    ex = Executor()
    result = {}
    for path, data in files.items():
        if is_secret_path(path):
            source = project.root / ".kill-test-secret"
            source.write_bytes(data)
            data = decrypt(ex, source, age_key_file=project.root / "age.key").encode()
            source.unlink()
        result[path] = data
    return result


def edit_to_new_config(project: Project) -> None:
    """A change that updates, creates and removes outputs: new token, new domain, one node fewer."""
    cluster = project.root / "cluster.yaml"
    cluster.write_text(cluster.read_text().replace("replace-me-with-your-cloudflare-api-token", NEW_TOKEN)
                       .replace('"example.com"', '"example.org"'))
    nodes = project.root / "nodes.yaml"
    text = nodes.read_text()
    nodes.write_text(text[: text.index('  - name: "k8s-1"')])


def env() -> dict[str, str]:
    return {**os.environ, "CLUSTER_TEMPLATE_SCHEMA_DIR": str(SCHEMA_DIR), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory):
    """A configured project, its outputs for the old and the new configuration, the old configuration
    files, and how long an uninterrupted run takes."""
    from ..conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("reference") / "repo")
    assert project.inv("init").returncode == 0
    (project.root / "cloudflare-tunnel.json").write_text(
        (project.root / "templates/samples/cloudflare-tunnel.sample.json").read_text())
    assert project.inv("configure", "--yes").returncode == 0
    old = generated(project)
    old_config = {name: (project.root / name).read_text() for name in ("cluster.yaml", "nodes.yaml")}
    edit_to_new_config(project)
    started = time.monotonic()
    assert project.inv("configure", "--yes").returncode == 0
    duration = time.monotonic() - started
    return project, old, comparable(project, generated(project)), old_config, duration


def clone_at_old_state(reference: Project, target: Path, old: dict[str, bytes], old_config: dict[str, str]) -> Project:
    """A copy of the reference project with the old outputs and the old configuration."""
    import shutil

    shutil.copytree(reference.root, target, symlinks=True)
    project = Project(target)
    for path in generated(project):
        (project.root / path).unlink()
    for path, data in {**old, **old_config}.items():
        (project.root / path).parent.mkdir(parents=True, exist_ok=True)
        (project.root / path).write_bytes(data if isinstance(data, bytes) else data.encode())
    return project


TRIALS = 32


@pytest.mark.slow
def test_sigkill_leaves_old_or_new_outputs_and_no_plaintext(old_and_new, tmp_path):
    reference, old, new, old_config, duration = old_and_new
    old_plain = comparable(reference, old)
    secrets = [NEW_TOKEN, "replace-me-with-your-cloudflare-api-token",
               next(line for line in (reference.root / "age.key").read_text().splitlines()
                    if line.startswith("AGE-SECRET-KEY-"))]
    rng = random.Random(20261128)
    outcomes = {"old": 0, "new": 0}
    for trial in range(TRIALS):
        project = clone_at_old_state(reference, tmp_path / f"t{trial}", old, old_config)
        assert generated(project) == old
        edit_to_new_config(project)
        process = subprocess.Popen([INV, "configure", "--yes"], cwd=project.root, env=env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Mostly late kills, around the swap; every fourth anywhere in the run.
        delay = rng.uniform(0.6, 1.1) * duration if trial % 4 else rng.uniform(0, duration)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # No torn file: whatever is there is one version or the other (secrets compared decrypted).
        for path, data in comparable(project, generated(project)).items():
            assert data in (old_plain.get(path), new.get(path)), f"trial {trial}: {path} is neither old nor new"
        # No plaintext secret anywhere in the tree but the configuration and the key file.
        for path, data in project.snapshot().items():
            if path in {"cluster.yaml", "age.key"}:
                continue
            for value in secrets:
                assert value.encode() not in data, f"trial {trial}: plaintext secret in {path}"
        # The next run's first step (recovery) settles the tree on one complete set.
        outputs.recover(Executor(), project.root)
        settled = comparable(project, generated(project))
        assert settled in (old_plain, new), f"trial {trial}: a mix after recovery"
        outcomes["new" if settled == new else "old"] += 1
        assert not (project.root / outputs.STAGING_DIR).exists()
    assert sum(outcomes.values()) == TRIALS


def test_no_secret_in_outputs_logs_or_plans(configured_sample, tmp_path):
    project = configured_sample
    log = tmp_path / "events.jsonl"
    secret_values = [
        "replace-me-with-your-cloudflare-api-token",
        next(line for line in (project.root / "age.key").read_text().splitlines() if line.startswith("AGE-SECRET")),
        (project.root / "github-push-token.txt").read_text().strip(),
        *[line for line in (project.root / "github-deploy.key").read_text().splitlines() if len(line) > 20],
    ]
    import json

    tunnel = json.loads((project.root / "cloudflare-tunnel.json").read_text())
    secret_values.append(tunnel["TunnelSecret"])
    cluster = project.root / "cluster.yaml"
    cluster.write_text(cluster.read_text().replace("replace-me-with-your-cloudflare-api-token", "another-secret-value-42"))
    secret_values.append("another-secret-value-42")
    printed = ""
    for args in (["--dry", "configure", "--yes"], ["-e", "configure", "--yes"], ["template.vars"],
                 ["template.vars", "--json"], ["validate"], ["--dry", "talos.generate-config"],
                 ["-e", "talos.generate-config"], ["doctor"]):
        result = project.inv(*args, env={"CLUSTER_TEMPLATE_EVENT_LOG": str(log)})
        printed += result.stdout + result.stderr
    texts = {"printed output": printed, "event log": log.read_text()}
    for path, data in project.snapshot().items():
        if path in {"cluster.yaml", "age.key", "github-deploy.key", "github-push-token.txt", "cloudflare-tunnel.json"}:
            continue  # the inputs themselves
        if path.startswith(("talos/clusterconfig/", "tasks", "templates/")):
            continue  # machine configs are git-ignored 0600 files that must hold the Talos PKI
        texts[path] = data.decode(errors="replace")
    for where, text in texts.items():
        for value in secret_values:
            assert value not in text, f"a secret value appears in {where}"


def test_two_mutating_tasks_at_once_are_not_interleaved(configured_sample):
    project = configured_sample
    cluster = project.root / "cluster.yaml"
    cluster.write_text(cluster.read_text().replace('"example.com"', '"example.net"'))
    first = subprocess.Popen([INV, "configure", "--yes"], cwd=project.root, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Once the first run holds the lock (it names itself in the lock file), freeze it there: a
    # one-key configure is quick enough to finish before a second `inv` has even started.
    lock = project.root / ".inv.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()):
        assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.002)
    first.send_signal(signal.SIGSTOP)
    try:
        second = project.inv("configure", "--yes")
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 4 and "is running in this checkout" in second.stderr
    assert "inv configure --yes" in second.stderr
