import base64
import json
import sys

import pytest

from cluster_template.errors import CommandError, CommandTimeout, ToolNotFound
from cluster_template.run import REDACTED, Executor, Redactor

PY = sys.executable


def test_redactor_masks_value_base64_and_key_lines():
    key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END KEY-----"
    redactor = Redactor(["hunter2-secret", key])
    encoded = base64.b64encode(b"hunter2-secret").decode()
    text = f"token=hunter2-secret b64={encoded} line=AAAABBBBCCCCDDDDEEEEFFFF"
    masked = redactor.redact(text)
    assert "hunter2" not in masked and encoded not in masked and "AAAABBBB" not in masked
    assert masked.count(REDACTED) == 3


def test_redactor_ignores_trivial_values():
    redactor = Redactor(["", "no", None, 42])
    assert redactor.redact("no problem") == "no problem"


def test_dry_run_reports_and_does_not_execute(tmp_path):
    marker = tmp_path / "marker"
    events = []
    ex = Executor(dry=True, report=events.append)
    result = ex.run([PY, "-c", f"open({str(marker)!r}, 'w')"])
    assert result.dry and result.ok and not marker.exists()
    assert events[0].kind == "run" and events[0].dry
    assert ex.write_file(tmp_path / "f.txt", "x") == "create"
    assert not (tmp_path / "f.txt").exists()


def test_readonly_commands_run_in_dry_mode():
    ex = Executor(dry=True)
    assert ex.run([PY, "-c", "print('hi')"], readonly=True).stdout == "hi\n"


def test_failure_carries_exit_code_and_redacted_stderr_tail():
    ex = Executor(redactor=Redactor(["s3cr3t-value"]))
    script = "import sys\nfor i in range(50): print('line', i, file=sys.stderr)\nprint('s3cr3t-value', file=sys.stderr)\nsys.exit(7)"
    with pytest.raises(CommandError) as raised:
        ex.run([PY, "-c", script])
    error = raised.value
    assert error.returncode == 7
    assert "s3cr3t-value" not in str(error) and REDACTED in error.stderr_tail
    assert "line 49" in error.stderr_tail and "line 10 " not in error.stderr_tail + " "


def test_command_line_secrets_are_redacted_in_reports():
    events = []
    ex = Executor(redactor=Redactor(["tok-abcdef"]), report=events.append)
    ex.run([PY, "-c", "pass", "tok-abcdef"])
    assert "tok-abcdef" not in events[0].subject


def test_env_values_are_never_reported(tmp_path):
    log = tmp_path / "events.jsonl"
    events = []
    ex = Executor(report=events.append, log_file=log)
    result = ex.run([PY, "-c", "import os; print(os.environ['PASSWORD_X'])"], env={"PASSWORD_X": "pa55-word"})
    assert result.stdout.strip() == "pa55-word"
    assert "pa55-word" not in log.read_text() and "PASSWORD_X" in events[0].detail
    assert all(json.loads(line) for line in log.read_text().splitlines())


def test_timeout_kills_and_reports():
    ex = Executor()
    with pytest.raises(CommandTimeout) as raised:
        ex.run([PY, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert "timed out after 0.3s" in str(raised.value)


def test_missing_tool_names_the_fix():
    with pytest.raises(ToolNotFound) as raised:
        Executor().run(["definitely-not-a-tool-xyz"])
    assert "mise install" in str(raised.value)


def test_write_file_create_unchanged_update_and_mode(tmp_path):
    ex = Executor()
    path = tmp_path / "sub" / "f.txt"
    assert ex.write_file(path, "a", mode=0o600) == "create"
    assert (path.stat().st_mode & 0o777) == 0o600
    before = path.stat().st_mtime_ns
    assert ex.write_file(path, "a", mode=0o600) == "unchanged"
    assert path.stat().st_mtime_ns == before
    assert ex.write_file(path, b"b") == "update" and path.read_text() == "b"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]  # no temporary file left


def test_remove_reports_only_existing(tmp_path):
    ex = Executor()
    path = tmp_path / "x"
    path.write_text("1")
    assert ex.remove(path) is True and not path.exists()
    assert ex.remove(path) is False


def test_dry_run_read_with_a_missing_tool_counts_as_a_failed_read():
    events = []
    ex = Executor(dry=True, report=events.append)
    result = ex.run(["definitely-not-a-tool-xyz", "get"], readonly=True, check=False)
    assert result.returncode == 127 and "mise install" in result.stderr
    with pytest.raises(CommandError):
        ex.run(["definitely-not-a-tool-xyz", "get"], readonly=True)
    assert [e.subject for e in events if e.kind == "note"] == [
        "dry run: definitely-not-a-tool-xyz is not installed, so its checks count as failed"]
    with pytest.raises(ToolNotFound):
        Executor().run(["definitely-not-a-tool-xyz"], readonly=True)
