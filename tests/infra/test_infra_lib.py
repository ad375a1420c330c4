"""The library parts on their own: tofu argv builders and error readers, the credentials file, the
Infra session (one decryption per run, redaction), and `qm list` parsing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cluster_template.integrations.proxmox_ssh import parse_qm_list
from cluster_template.ops.infra import Infra, InfraError, TofuFailed, parse_credentials
from cluster_template.run import REDACTED, Executor
from cluster_template.tools import tofu


def test_argv_builders_put_extra_arguments_before_positionals():
    assert tofu.apply_plan(["-parallelism=2"]) == ["tofu", "apply", "-input=false", "-parallelism=2", "tfplan"]
    assert tofu.force_unlock("abc", ["-no-color"]) == ["tofu", "force-unlock", "-force", "-no-color", "abc"]
    assert tofu.plan(["-lock=false"], no_color=True) == \
        ["tofu", "plan", "-input=false", "-out=tfplan", "-no-color", "-lock=false"]
    assert tofu.init(backend=False) == ["tofu", "init", "-input=false", "-backend=false"]
    assert tofu.destroy()[:4] == ["tofu", "destroy", "-input=false", "-auto-approve"]
    assert tofu.fmt(check=True) == ["tofu", "fmt", "-recursive", "-check", "-diff"]


def test_lock_id_is_read_from_the_lock_diagnostic():
    stderr = ("\nError: Error acquiring the state lock\n\nError message: HTTP remote state already locked: "
              "ID=1234-abcd\nLock Info:\n  ID:        1234-abcd\n  Path:      \n  Operation: OperationTypeApply\n")
    assert tofu.locked_by_other(stderr) == "1234-abcd"
    assert tofu.locked_by_other("Error: something else\n  ID: nope\n") is None


def test_credentials_must_all_be_present():
    text = ("tfstate_username: u\ntfstate_password: p\nproxmox_api_token_id: a@pve!b\n"
            "proxmox_api_token_secret: s\n")
    credentials = parse_credentials(text)
    assert credentials.backend_env() == {"TF_HTTP_USERNAME": "u", "TF_HTTP_PASSWORD": "p"}
    assert credentials.provider_env() == {"TF_VAR_proxmox_api_token_id": "a@pve!b",
                                          "TF_VAR_proxmox_api_token_secret": "s"}
    with pytest.raises(InfraError, match="has no tfstate_password, proxmox_api_token_secret"):
        parse_credentials("tfstate_username: u\ntfstate_password: ''\nproxmox_api_token_id: a@pve!b\n")


def test_qm_list_parsing():
    text = ("      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID\n"
            "       100 k8s-0                running    8192              64.00 4242\n"
            "       101 k8s-1                stopped    16384            256.00 0\n")
    assert parse_qm_list(text) == {"k8s-0": 100, "k8s-1": 101}


@pytest.fixture
def session(infra_project, tmp_path):
    """An Infra session on a configured project whose `tofu` is a script that prints the secrets it
    was given (as a careless tool might), then fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "tofu"
    script.write_text('#!/bin/sh\necho "token=$TF_VAR_proxmox_api_token_secret"\n'
                      'echo "password=$TF_HTTP_PASSWORD" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    reported = []
    ex = Executor(report=reported.append, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    # Pretend the directory was initialized, so each call is one tofu run.
    (infra_project.root / "infrastructure/tofu/.terraform").mkdir()
    (infra_project.root / "infrastructure/tofu/.terraform/terraform.tfstate").write_text("{}")
    return Infra(Path(infra_project.root), ex), ex


def test_output_of_tofu_is_redacted_and_secrets_decrypted_once(session, credentials):
    infra, ex = session
    for operation in (infra.plan, infra.output, infra.state_list):
        with pytest.raises(TofuFailed) as failure:
            operation()
        assert credentials.proxmox_api_token_secret not in failure.value.stdout + str(failure.value)
        assert credentials.tfstate_password not in str(failure.value)
        assert REDACTED in str(failure.value)
    decrypts = [event for event in ex.events if event.kind == "run" and "--decrypt" in event.subject]
    assert len(decrypts) == 1
    tofu_runs = [event for event in ex.events if event.kind == "run" and event.subject.startswith("tofu ")]
    assert len(tofu_runs) == 3
    for event in ex.events:
        for value in credentials.values():
            assert value not in event.subject + event.detail


def test_missing_age_key_is_named(session):
    infra, _ = session
    (infra.root / "age.key").unlink()
    with pytest.raises(InfraError, match="age.key is missing"):
        infra.plan()
