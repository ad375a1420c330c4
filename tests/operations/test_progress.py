"""Progress on long waits: the executor's "still waiting for ..." notes while a long-running tool
(one run with a graceful stop) works, against a fake that takes its time."""

from __future__ import annotations

import uuid

from cluster_template.run import REDACTED, Executor, Redactor
from tests.fakes.fixtures import fake_tools


def test_a_slow_tool_gets_progress_notes_that_carry_no_secret(tmp_path):
    tools = fake_tools(tmp_path, controllers=1, stage="running")
    tools.cluster.set_tool_hang("talosctl", 1.0)
    secret = f"context-{uuid.uuid4().hex}"
    events = []
    ex = Executor(env=tools.env, redactor=Redactor([secret]), report=events.append, heartbeat=0.3)

    ex.run(["talosctl", "--context", secret, "version", "--nodes", "10.0.0.11"], readonly=True, check=False,
           stop_grace=1.0)

    notes = [event.subject for event in events if event.kind == "note"]
    assert len(notes) >= 2, notes
    assert all(note.startswith("still waiting for `talosctl --context ") for note in notes), notes
    assert all(REDACTED in note and secret not in note for note in notes)
    assert notes[0].endswith("(0s)")


def test_a_quick_tool_gets_no_progress_note(tmp_path):
    tools = fake_tools(tmp_path, controllers=1, stage="running")
    events = []
    ex = Executor(env=tools.env, report=events.append, heartbeat=5.0)
    ex.run(["talosctl", "version", "--client"], readonly=True, check=False, stop_grace=1.0)
    assert [event for event in events if event.kind == "note"] == []
