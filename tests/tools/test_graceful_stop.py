"""Long-running tools are stopped gracefully: their own process group, SIGINT, a grace period,
SIGTERM, and only then SIGKILL, each step reported through the executor's events."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cluster_template.errors import CommandTimeout
from cluster_template.run import Event, Executor

from ..fakes.fixtures import fake_tools

BACKEND = 'terraform {\n  backend "http" {\n    address = "https://tfstate.example.com/states/proxmox"\n  }\n}\n'
SECRETS = {"TF_HTTP_USERNAME": "terraform", "TF_HTTP_PASSWORD": "hunter2-long-password"}


def notes(events: list[Event]) -> list[str]:
    return [event.subject for event in events if event.kind == "note"]


def test_a_timed_out_tofu_apply_gets_sigint_and_releases_its_lock(tmp_path):
    tools = fake_tools(tmp_path, controllers=1)
    directory = tools.root / "tofu"
    directory.mkdir()
    (directory / "backend.tf").write_text(BACKEND)
    tools.cluster.set_tofu(desired=['proxmox_virtual_environment_vm.node["k8s-0"]'], apply_seconds=30.0,
                           stop_seconds=0.3)
    events: list[Event] = []
    ex = Executor(env=tools.env, report=events.append)
    ex.run(["tofu", "init", "-input=false"], cwd=directory, env=SECRETS)
    with pytest.raises(CommandTimeout):
        ex.run(["tofu", "apply", "-input=false", "-auto-approve"], cwd=directory, env=SECRETS, timeout=1.0,
               stop_grace=10.0)
    state = tools.cluster.read()["tofu"]
    assert state["lock"] is None and state["signals"] == ["SIGINT"]
    assert notes(events) == ["tofu timed out after 1s: sent SIGINT, waiting up to 10s for it to stop cleanly "
                             "(killed now, it could leave a state lock or half-applied changes behind)",
                             "tofu stopped (exit code 1)"]


def test_a_tool_that_ignores_sigint_and_sigterm_is_killed_after_the_grace_periods(tmp_path):
    stubborn = tmp_path / "stubborn"
    marker = tmp_path / "signals"
    stubborn.write_text(f"""#!{sys.executable}
import signal, sys, time
def note(signum, _):
    with open({str(marker)!r}, "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
print("started", flush=True)
while True:
    time.sleep(0.05)
""")
    stubborn.chmod(0o755)
    events: list[Event] = []
    ex = Executor(report=events.append, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    with pytest.raises(CommandTimeout):
        ex.run([str(stubborn)], timeout=0.5, stop_grace=0.3)
    assert Path(marker).read_text().split() == ["SIGINT", "SIGTERM"]
    assert [note.split(":")[0] for note in notes(events)] == ["stubborn timed out after 0.5s"] * 2 + [
        "stubborn did not stop within 0.3s of SIGTERM"]
    assert "sent SIGTERM" in notes(events)[1] and "killing it (SIGKILL)" in notes(events)[2]
