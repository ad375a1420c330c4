"""`inv infra.*` against the fake tofu: credentials reach tofu's environment and nowhere else."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.fakes.fixtures import fake_tools

from .conftest import Credentials, Project, cluster_yaml, prepared_project

VM = 'proxmox_virtual_environment_vm.node["{}"]'
ISO = 'proxmox_download_file.talos_iso["376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"]'
DESIRED = [VM.format("k8s-0"), VM.format("k8s-1"), ISO]
SECRET_ENV = {
    "TF_HTTP_USERNAME": "tfstate_username",
    "TF_HTTP_PASSWORD": "tfstate_password",
    "TF_VAR_proxmox_api_token_id": "proxmox_api_token_id",
    "TF_VAR_proxmox_api_token_secret": "proxmox_api_token_secret",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def tools(tmp_path):
    tools = fake_tools(tmp_path / "fakes")
    tools.cluster.set_tofu(desired=DESIRED, desired_outputs={"vms": {"k8s-0": {"vm_id": 100}}})
    return tools


def inv(project: Project, tools, *args: str, event_log: Path | None = None, input: str | None = None):
    env = dict(tools.overrides)
    if event_log is not None:
        env["CLUSTER_TEMPLATE_EVENT_LOG"] = str(event_log)
    return project.inv(*args, env=env, input=input)


def assert_nothing_leaks(credentials: Credentials, *texts: str) -> None:
    for text in texts:
        for value in credentials.values():
            assert value not in text


def test_plan_and_apply_pass_credentials_only_in_the_environment(infra_project, tools, credentials, tmp_path):
    events = tmp_path / "events.jsonl"
    plan = inv(infra_project, tools, "infra.plan", event_log=events)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert (infra_project.root / "infrastructure/tofu/tfplan").is_file()
    # The token variables are ephemeral: a plan file keeps every other variable's value.
    assert_nothing_leaks(credentials, (infra_project.root / "infrastructure/tofu/tfplan").read_text())
    assert not tools.cluster.read()["tofu"].get("resources"), "a plan changes nothing"
    assert plan.stdout.rstrip().endswith("saved the plan; review it above, then run `inv infra.apply`")

    apply = inv(infra_project, tools, "infra.apply", event_log=events)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert not (infra_project.root / "infrastructure/tofu/tfplan").exists()  # applied once, then gone
    assert sorted(tools.cluster.read()["tofu"]["resources"]) == sorted(DESIRED)

    calls = tools.calls("tofu")
    assert [call.argv[0] for call in calls] == ["init", "plan", "apply"]
    plan_call, apply_call = calls[1], calls[2]
    expected = {name: sha256(getattr(credentials, field)) for name, field in SECRET_ENV.items()}
    assert plan_call.secret_env == expected
    assert apply_call.secret_env == expected
    # init talks to the backend only: it gets no API token.
    assert calls[0].secret_env == {name: expected[name] for name in ("TF_HTTP_USERNAME", "TF_HTTP_PASSWORD")}
    for call in calls:
        assert_nothing_leaks(credentials, " ".join(call.argv))
        assert call.cwd == str(infra_project.root / "infrastructure/tofu")
    assert apply_call.argv[-1] == "tfplan"
    assert_nothing_leaks(credentials, plan.stdout, plan.stderr, apply.stdout, apply.stderr, events.read_text(),
                         tools.log_path.read_text())


def test_dry_plan_shows_the_commands_but_no_credential(infra_project, tools, credentials):
    result = inv(infra_project, tools, "--dry", "infra.plan")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = result.stdout + result.stderr
    assert "would run: tofu init" in shown
    assert "would run: tofu plan -input=false -out=tfplan" in shown
    assert "TF_VAR_proxmox_api_token_secret" in shown  # the names of what it gets, not the values
    assert_nothing_leaks(credentials, shown)
    assert tools.calls("tofu") == []
    assert not (infra_project.root / "infrastructure/tofu/.terraform").exists()


def test_extra_arguments_pass_through(infra_project, tools):
    result = inv(infra_project, tools, "infra.plan", "--args", "-lock=false -target='proxmox_download_file.talos_iso'")
    assert result.returncode == 0, result.stdout + result.stderr
    plan = tools.calls("tofu", "plan")[0]
    assert plan.argv[-2:] == ("-lock=false", "-target=proxmox_download_file.talos_iso")


def test_apply_without_a_plan_fails_clearly(infra_project, tools):
    result = inv(infra_project, tools, "infra.apply")
    assert result.returncode == 1
    assert "run `inv infra.plan` first" in result.stderr
    assert tools.calls("tofu") == []


def test_destroy_is_refused_without_yes_and_without_a_terminal(infra_project, tools):
    inv(infra_project, tools, "infra.apply-auto", "--yes")
    before = tools.cluster.read()["tofu"]["resources"]
    assert before
    result = inv(infra_project, tools, "infra.destroy", input="")
    assert result.returncode == 3
    assert "re-run with --yes" in result.stderr
    assert not tools.calls("tofu", "destroy")
    assert tools.cluster.read()["tofu"]["resources"] == before

    result = inv(infra_project, tools, "infra.destroy", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert tools.cluster.read()["tofu"]["resources"] == []
    assert tools.calls("tofu", "destroy")[0].has("-auto-approve")


def test_apply_auto_asks_first(infra_project, tools):
    result = inv(infra_project, tools, "infra.apply-auto", input="")
    assert result.returncode == 3
    assert not tools.calls("tofu")


def test_a_locked_state_points_at_force_unlock(infra_project, tools):
    tools.cluster.set_tofu(lock={"ID": "6f5a1c2e-lock", "Who": "someone@laptop"})
    plan = inv(infra_project, tools, "infra.plan")
    assert plan.returncode == 1
    assert "inv infra.force-unlock --lock-id 6f5a1c2e-lock" in plan.stderr

    refused = inv(infra_project, tools, "infra.force-unlock", "--lock-id", "6f5a1c2e-lock", input="")
    assert refused.returncode == 3
    assert tools.cluster.read()["tofu"]["lock"] is not None

    unlocked = inv(infra_project, tools, "infra.force-unlock", "--lock-id", "6f5a1c2e-lock", "--yes")
    assert unlocked.returncode == 0, unlocked.stdout + unlocked.stderr
    assert tools.cluster.read()["tofu"]["lock"] is None
    call = tools.calls("tofu", "force-unlock")[0]
    assert call.argv[-1] == "6f5a1c2e-lock" and call.has("-force")
    assert inv(infra_project, tools, "infra.plan").returncode == 0


def test_output_and_state_list(infra_project, tools):
    assert inv(infra_project, tools, "infra.apply-auto", "--yes").returncode == 0
    output = inv(infra_project, tools, "infra.output", "--args=-json")
    assert output.returncode == 0, output.stderr
    assert json.loads(output.stdout)["vms"]["value"] == {"k8s-0": {"vm_id": 100}}
    listed = inv(infra_project, tools, "infra.state-list")
    assert listed.stdout.split() == sorted(DESIRED)


def test_validate_needs_no_credentials(infra_project, tools):
    result = inv(infra_project, tools, "infra.validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration is valid" in result.stdout
    assert [call.argv[:2] for call in tools.calls("tofu")] == [("init", "-input=false"), ("validate", "-no-color")]
    assert all(call.secret_env == {} for call in tools.calls("tofu"))
    assert tools.calls("tofu", "init")[0].has("-backend=false")


def test_fmt_check_fails_when_a_file_needs_formatting(infra_project, tools):
    assert inv(infra_project, tools, "infra.fmt-check").returncode == 0
    tools.cluster.set_tofu(unformatted=["main.tf"])
    result = inv(infra_project, tools, "infra.fmt-check")
    assert result.returncode == 1
    assert "run `inv infra.fmt`" in result.stderr


def test_secrets_file_is_encrypted_and_decrypts_with_the_age_key(infra_project, credentials):
    from ruamel.yaml import YAML

    from cluster_template.run import Executor
    from cluster_template.tools import sops

    path = infra_project.root / "infrastructure/secrets.sops.yaml"
    encrypted = YAML(typ="safe").load(path.read_text())
    assert "sops" in encrypted and encrypted["sops"]["age"]
    for key in ("tfstate_username", "tfstate_password", "proxmox_api_token_id", "proxmox_api_token_secret"):
        assert encrypted[key].startswith("ENC[AES256_GCM,")
    assert_nothing_leaks(credentials, path.read_text())
    plain = YAML(typ="safe").load(sops.decrypt(Executor(), path, age_key_file=infra_project.root / "age.key"))
    assert plain == {key: getattr(credentials, key) for key in SECRET_ENV.values()}


def test_secrets_edit_without_the_file_says_to_configure(infra_project, tools):
    (infra_project.root / "infrastructure/secrets.sops.yaml").unlink()
    result = inv(infra_project, tools, "infra.secrets-edit")
    assert result.returncode == 1
    assert "run `inv configure` first" in result.stderr


def test_secrets_edit_runs_sops_on_the_file(infra_project, tools, tmp_path):
    # An "editor" that appends a line: sops re-encrypts what it saved.
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "extra_note: edited\\n" >> "$1"\n')
    editor.chmod(0o755)
    result = infra_project.inv("infra.secrets-edit", env={**tools.overrides, "EDITOR": str(editor)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "saved" in result.stdout
    from ruamel.yaml import YAML

    from cluster_template.run import Executor
    from cluster_template.tools import sops

    path = infra_project.root / "infrastructure/secrets.sops.yaml"
    plain = YAML(typ="safe").load(sops.decrypt(Executor(), path, age_key_file=infra_project.root / "age.key"))
    assert plain["extra_note"] == "edited"
    assert "edited" not in path.read_text()


def test_tasks_need_the_rendered_tree(tmp_path, tools, credentials):
    project = prepared_project(tmp_path / "repo", cluster_yaml(credentials), "nodes: []\n")
    for task in ("infra.plan", "infra.init", "infra.validate"):
        result = inv(project, tools, task)
        assert result.returncode == 1
        assert "set proxmox_api_url and proxmox_node in cluster.yaml and run `inv configure`" in result.stderr
    assert tools.calls("tofu") == []


def test_missing_backend_password_fails_like_the_backend(infra_project, tools, credentials):
    """The fake backend rejects calls without TF_HTTP_PASSWORD; with it the run works, so the
    credential really travels (a counter-check of the environment test)."""
    result = infra_project.inv("infra.init", env={**tools.overrides})
    assert result.returncode == 0, result.stdout + result.stderr
    direct = tools.run("tofu", "plan", "-input=false", cwd=infra_project.root / "infrastructure/tofu")
    assert direct.returncode == 1
    assert "HTTP remote state endpoint requires auth" in direct.stderr


def _interrupt_apply(infra_project, tools, *, interrupts: int):
    """`inv infra.apply` in its own session (as a terminal runs it), with Ctrl-C pressed
    `interrupts` times on that terminal (SIGINT to the whole foreground process group) while the
    fake tofu is applying."""
    import os
    import signal
    import subprocess
    import time

    from tests.conftest import INV

    assert inv(infra_project, tools, "infra.plan").returncode == 0
    tools.cluster.set_tofu(apply_seconds=30.0, stop_seconds=1.0)
    process = subprocess.Popen([INV, "infra.apply"], cwd=infra_project.root, env={**os.environ, **tools.overrides},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not (tools.cluster.read()["tofu"].get("lock") or {}).get("Operation") == "OperationTypeApply":
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.05)
        for _ in range(interrupts):
            os.killpg(process.pid, signal.SIGINT)
            time.sleep(0.5)  # a person's second press; Popen.communicate itself waits 0.25 s first
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, stdout, stderr


def test_ctrl_c_during_apply_delivers_one_sigint_waits_and_leaves_no_lock_held(infra_project, tools):
    """tofu needs time after SIGINT to finish its in-flight operations and release the state lock;
    killed meanwhile (what subprocess.run does 0.25 s after Ctrl-C), it leaves the lock held."""
    code, stdout, stderr = _interrupt_apply(infra_project, tools, interrupts=1)
    state = tools.cluster.read()["tofu"]
    assert state["lock"] is None, stderr
    assert state.get("signals") == ["SIGINT"], stderr
    assert code == 130 and "interrupted" in stderr
    assert "tofu interrupted: sent SIGINT, waiting up to 60s" in stderr and "tofu stopped (exit code 1)" in stderr
    [apply] = tools.calls("tofu", "apply")
    assert apply.returncode == 1  # tofu's own exit after its graceful stop, not a kill
    assert state["resources"] == []  # halted before any resource was created


def test_a_second_ctrl_c_escalates_to_sigterm_and_says_so(infra_project, tools):
    """An operator pressing Ctrl-C again wants out: the next step (SIGTERM) is sent at once and
    reported, instead of waiting out the grace period."""
    code, _, stderr = _interrupt_apply(infra_project, tools, interrupts=2)
    state = tools.cluster.read()["tofu"]
    assert code == 130
    assert "tofu interrupted again: sent SIGTERM" in stderr
    assert state["signals"] == ["SIGINT", "SIGTERM"]


def test_a_long_apply_reports_progress_without_any_credential(infra_project, tools, credentials):
    """A tofu apply that takes a while is not silent: a line every progress interval names what
    runs and for how long (and no credential: they travel in the environment)."""
    assert inv(infra_project, tools, "infra.plan").returncode == 0
    tools.cluster.set_tofu(apply_seconds=1.5)
    tools.overrides["CLUSTER_TEMPLATE_PROGRESS_SECONDS"] = "0.4"
    apply = inv(infra_project, tools, "infra.apply")
    assert apply.returncode == 0, apply.stdout + apply.stderr
    beats = [line for line in apply.stderr.splitlines() if line.startswith("still waiting for `tofu apply")]
    assert len(beats) >= 2, apply.stderr
    assert beats[0].endswith("(0s)") and beats[-1].endswith("(1s)"), beats
    assert_nothing_leaks(credentials, apply.stdout, apply.stderr)
