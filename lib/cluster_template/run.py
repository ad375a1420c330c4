"""The one executor: every subprocess and every file write of the project passes through it.

It honours dry-run (the plan is reported, nothing changes), redacts every registered secret from
what it reports or logs, applies timeouts, and turns a failed command into a `CommandError` that
carries the exit code and the tail of stderr.

Reporting goes through the `report` callback (tasks print; tests collect), and, when `log_file`
is set, as JSON lines. Read-only commands (`readonly=True`) run even in dry mode: they change
nothing and let a plan reflect real state.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import heartbeat as heartbeat_module
from .errors import CommandError, CommandTimeout, ToolNotFound

REDACTED = "[REDACTED]"
STDERR_TAIL_LINES = 20
DEFAULT_TIMEOUT = 600.0
# Values shorter than this are not treated as secrets: masking "yes" or "1" everywhere would make
# output unreadable and protects nothing.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Masks registered secret values (and their base64 forms) in any text.

    Every value any redactor learns is also known to `redact_known`, the last filter an error
    message passes on its way to the operator, whichever executor registered the secret."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self.add(*secrets)

    def add(self, *values: object) -> None:
        with self._lock:
            for value in values:
                if not isinstance(value, str):
                    continue
                for form in _secret_forms(value):
                    if len(form) >= MIN_SECRET_LENGTH:
                        self._values.add(form)
                        if self is not _KNOWN:
                            _KNOWN.add(form)

    def redact(self, text: str) -> str:
        if not text:
            return text
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def __contains__(self, value: str) -> bool:
        return value in self._values


_KNOWN = Redactor()


def redact_known(text: str) -> str:
    """`text` with every secret any redactor in this process has learnt masked."""
    return _KNOWN.redact(text)


def _secret_forms(value: str) -> set[str]:
    stripped = value.strip()
    if not stripped:
        return set()
    forms = {value, stripped}
    forms.add(base64.b64encode(stripped.encode()).decode())
    # A multi-line secret (a private key) may be printed one line at a time.
    forms.update(line.strip() for line in stripped.splitlines() if len(line.strip()) >= 16)
    return forms


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    dry: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class Event:
    """One step of a plan or of a run, already redacted."""

    kind: str  # run | create | update | remove | unchanged | note
    subject: str
    dry: bool
    detail: str = ""
    data: Mapping[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        prefix = "would " if self.dry and self.kind in {"run", "create", "update", "remove"} else ""
        text = f"{prefix}{self.kind}: {self.subject}"
        return f"{text} ({self.detail})" if self.detail else text


Reporter = Callable[[Event], None]


def _ignore(_: Event) -> None:
    return None


class Executor:
    """Runs commands and writes files, or, when `dry`, only reports what it would do."""

    def __init__(
        self,
        *,
        dry: bool = False,
        redactor: Redactor | None = None,
        report: Reporter = _ignore,
        log_file: Path | None = None,
        default_timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        heartbeat: float = heartbeat_module.DEFAULT_SECONDS,
    ):
        self.dry = dry
        # Seconds between two "still waiting for ..." notes while a long-running tool runs.
        self.heartbeat = heartbeat
        self.redactor = redactor or Redactor()
        self._report = report
        self._log_file = log_file
        self._log_lock = threading.Lock()
        self.default_timeout = default_timeout
        self.base_env = dict(env) if env is not None else None
        self.events: list[Event] = []
        self._missing_tools: set[str] = set()

    # -- reporting -------------------------------------------------------------------------

    def note(self, message: str) -> None:
        """Report a progress message (redacted)."""
        self._emit(Event("note", self.redactor.redact(message), self.dry))

    def _emit(self, event: Event, *, quiet: bool = False) -> None:
        self.events.append(event)
        if not quiet:
            self._report(event)
        if self._log_file is not None:
            record = {"ts": round(time.time(), 3), "kind": event.kind, "subject": event.subject,
                      "dry": event.dry, "detail": event.detail, **event.data}
            with self._log_lock, open(self._log_file, "a", encoding="utf-8") as log:
                log.write(json.dumps(record, sort_keys=True) + "\n")

    def display(self, argv: Sequence[str]) -> str:
        return self.redactor.redact(shlex.join(str(a) for a in argv))

    # -- subprocesses ----------------------------------------------------------------------

    def which(self, tool: str) -> str:
        """Absolute path of `tool` (a name or a path); raises ToolNotFound."""
        path_var = (self.base_env or os.environ).get("PATH")
        found = shutil.which(tool, path=path_var)
        if found is None:
            raise ToolNotFound(tool)
        return found

    def run(
        self,
        argv: Sequence[str],
        *,
        readonly: bool = False,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        input: str | bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
        drop_env: tuple[str, ...] = (),
        stop_grace: float | None = None,
    ) -> CommandResult:
        """Run `argv` (no shell). `env` is added to the environment and never reported, so
        credentials travel there, not on the command line. Inherited variables whose names start
        with a prefix in `drop_env` are removed first (the operator's settings for that tool). With
        `stop_grace`, the command runs in its own process group and is stopped gracefully on Ctrl-C
        or timeout (`_stop_group`)."""
        argv = tuple(str(a) for a in argv)
        shown = self.display(argv)
        detail = f"env: {', '.join(sorted(env))}" if env else ""
        if self.dry and not readonly:
            self._emit(Event("run", shown, True, detail, {"cwd": str(cwd) if cwd else ""}))
            return CommandResult(argv, 0, dry=True)
        try:
            executable = self.which(argv[0])
        except ToolNotFound as missing:
            if not self.dry:
                raise
            # A plan can still be made without the tool: the read counts as failed, like a read
            # against a cluster that does not exist yet.
            if argv[0] not in self._missing_tools:
                self._missing_tools.add(argv[0])
                self._emit(Event("note", f"dry run: {argv[0]} is not installed, so its checks count as failed", True))
            if check:
                raise CommandError(shown, 127, str(missing)) from None
            return CommandResult(argv, 127, "", str(missing), dry=True)
        full_env = {name: value for name, value in (self.base_env if self.base_env is not None else os.environ).items()
                    if not name.startswith(drop_env)}
        if env:
            full_env.update(env)
        limit = self.default_timeout if timeout is None else timeout
        started = time.monotonic()
        self._emit(Event("run", shown, False, detail))
        command = (executable, *argv[1:])
        text = not isinstance(input, bytes)
        if stop_grace is None:
            try:
                completed = subprocess.run(command, cwd=cwd, env=full_env, input=input, capture_output=True,
                                           timeout=limit, text=text)
            except subprocess.TimeoutExpired as exc:
                raise CommandTimeout(shown, limit, self._tail(exc.stderr)) from None
            returncode, raw_out, raw_err = completed.returncode, completed.stdout, completed.stderr
        else:
            returncode, raw_out, raw_err = self._run_in_own_group(command, shown, cwd=cwd, env=full_env, input=input,
                                                                 limit=limit, text=text, grace=stop_grace)
        stdout = raw_out if isinstance(raw_out, str) else (raw_out or b"").decode(errors="replace")
        stderr = raw_err if isinstance(raw_err, str) else (raw_err or b"").decode(errors="replace")
        if self._log_file is not None:
            self._emit(Event("exit", shown, False, f"exit {returncode}",
                             {"exit": returncode, "seconds": round(time.monotonic() - started, 3)}))
        if check and returncode != 0:
            raise CommandError(shown, returncode, self._tail(stderr))
        return CommandResult(argv, returncode, stdout, stderr)

    def _run_in_own_group(self, command: Sequence[str], shown: str, *, cwd: Path | str | None, env: Mapping[str, str],
                          input: str | bytes | None, limit: float, text: bool,
                          grace: float) -> tuple[int, str | bytes, str | bytes]:
        """Run a tool that must clean up when stopped (tofu releases its state lock, helm finishes
        a release's status) in its own process group: a Ctrl-C on the terminal then reaches only
        this process, which forwards a single SIGINT (a second one makes tofu exit at once,
        leaving the lock) and gives the tool time to stop, instead of killing it at once."""
        process = subprocess.Popen(command, cwd=cwd, env=env, text=text, start_new_session=True,
                                   stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pulse = heartbeat_module.Heartbeat(f"`{shown}`", self.note, self.heartbeat)
        pending = input
        try:
            while True:
                left = limit - pulse.running_for()
                try:
                    # Input can only be sent once; a retried communicate() keeps what was read.
                    stdout, stderr = process.communicate(pending, timeout=max(0.0, min(pulse.until_next(), left)))
                    break
                except subprocess.TimeoutExpired:
                    pending = None
                    if pulse.running_for() >= limit:
                        raise
                    pulse.beat()
        except subprocess.TimeoutExpired:
            _, stderr = self._stop_group(process, f"timed out after {limit:g}s", grace)
            raise CommandTimeout(shown, limit, self._tail(stderr)) from None
        except KeyboardInterrupt:
            self._stop_group(process, "interrupted", grace)
            raise
        return process.returncode, stdout, stderr

    def _stop_group(self, process: subprocess.Popen, reason: str, grace: float) -> tuple[str | bytes, str | bytes]:
        """SIGINT, then SIGTERM, each followed by up to `grace` seconds of waiting, then SIGKILL;
        every step is reported. A further Ctrl-C while waiting moves on to the next signal."""
        tool = Path(str(process.args[0])).name  # type: ignore[index]
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.note(f"{tool} {reason}: sent {signum.name}, waiting up to {grace:g}s for it to stop cleanly "
                      "(killed now, it could leave a state lock or half-applied changes behind)")
            _signal_group(process, signum)
            try:
                stdout, stderr = process.communicate(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            except KeyboardInterrupt:
                reason = "interrupted again"
                continue
            self.note(f"{tool} stopped (exit code {process.returncode})")
            return stdout, stderr
        self.note(f"{tool} did not stop within {grace:g}s of SIGTERM: killing it (SIGKILL)")
        _signal_group(process, signal.SIGKILL)
        return process.communicate()

    def run_interactive(self, argv: Sequence[str], *, cwd: Path | str | None = None,
                        env: Mapping[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)) -> int:
        """Run a command on the operator's terminal (an editor): its output is not captured, so
        nothing of it can be redacted — use only for commands that talk to the operator directly.
        Returns the exit code; one outside `ok_codes` raises CommandError."""
        argv = tuple(str(a) for a in argv)
        shown = self.display(argv)
        if self.dry:
            self._emit(Event("run", shown, True))
            return 0
        executable = self.which(argv[0])
        full_env = dict(self.base_env if self.base_env is not None else os.environ)
        full_env.update(env or {})
        self._emit(Event("run", shown, False))
        completed = subprocess.run((executable, *argv[1:]), cwd=cwd, env=full_env, check=False)
        if completed.returncode not in ok_codes:
            raise CommandError(shown, completed.returncode, "")
        return completed.returncode

    def _tail(self, stderr: str | bytes | None) -> str:
        if not stderr:
            return ""
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        lines = stderr.rstrip().splitlines()[-STDERR_TAIL_LINES:]
        return self.redactor.redact("\n".join(lines))

    # -- files -----------------------------------------------------------------------------

    def write_file(self, path: Path, data: bytes | str, *, mode: int | None = None,
                   label: str | None = None, quiet: bool = False) -> str:
        """Write `data` atomically unless the file already holds exactly that.

        Returns the action taken (or planned): "create", "update" or "unchanged". `label` is how
        the file is named in reports (defaults to the path); `quiet` keeps the write out of the
        report (it is still logged), for intermediate files such as a staging tree."""
        payload = data.encode() if isinstance(data, str) else data
        path = Path(path)
        subject = label or str(path)
        if path.is_file():
            if path.read_bytes() == payload and (mode is None or (path.stat().st_mode & 0o777) == mode):
                return "unchanged"
            action = "update"
        else:
            action = "create"
        self._emit(Event(action, subject, self.dry), quiet=quiet)
        if self.dry:
            return action
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        try:
            with open(temporary, "wb") as handle:
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        return action

    def remove(self, path: Path, *, label: str | None = None) -> bool:
        """Remove a file (and any parent folders it leaves empty). Returns whether it existed."""
        path = Path(path)
        if not path.exists() and not path.is_symlink():
            return False
        self._emit(Event("remove", label or str(path), self.dry))
        if not self.dry:
            path.unlink()
        return True

    def move(self, source: Path, target: Path, *, label: str | None = None) -> None:
        """Atomically move `source` over `target` (same filesystem)."""
        action = "update" if Path(target).exists() else "create"
        self._emit(Event(action, label or str(target), self.dry))
        if not self.dry:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send `signum` to the process group the process leads (its helpers too: tofu's providers)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
