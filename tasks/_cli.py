"""What every task shares: the project root, the executor wired to invoke's `--dry`, confirmation
prompts, the project lock, and turning library errors into one clear message and an exit code."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from invoke import Exit

ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = ".inv.lock"
EVENT_LOG_ENV = "CLUSTER_TEMPLATE_EVENT_LOG"


def say(message: str = "") -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def executor(c: Any):
    """An Executor honouring `inv --dry`, reporting to stderr, optionally logging JSON lines."""
    from cluster_template.run import Executor

    from cluster_template.errors import ClusterTemplateError

    dry = bool(c.config.run.dry)
    log = os.environ.get(EVENT_LOG_ENV)
    if log and not Path(log).parent.is_dir():
        raise ClusterTemplateError(f"{EVENT_LOG_ENV}={log}: the folder {Path(log).parent} does not exist; "
                                   f"create it or point the log elsewhere")

    def report(event) -> None:
        if event.kind == "note" or event.dry or event.kind in {"create", "update", "remove"}:
            warn(event.subject if event.kind == "note" else event.describe())
        elif event.kind == "run" and c.config.run.echo:
            warn(f"$ {event.subject}")

    from cluster_template.heartbeat import interval_from_env

    return Executor(dry=dry, report=report, log_file=Path(log) if log else None, heartbeat=interval_from_env())


def confirm(question: str, yes: bool) -> bool:
    """Ask a yes/no question. Without a terminal, only `--yes` can answer."""
    from cluster_template.errors import Refused

    if yes:
        return True
    if not sys.stdin.isatty():
        raise Refused(f"{question} — no terminal to ask on; re-run with --yes to confirm")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in {"y", "yes"}


@contextlib.contextmanager
def project_lock(dry: bool, *, replan: bool = False, settle_required: bool = True) -> Iterator[None]:
    """Refuse to run two mutating tasks at once in the same checkout, then settle an interrupted
    `configure` swap. `replan`: the task is configure, which may discard an unreadable swap plan;
    `settle_required=False`: a task that does not read the outputs (init) only warns about one."""
    import fcntl

    from cluster_template.errors import Busy

    if dry:
        yield
        return
    with _open_lock_file() as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another task"
            raise Busy(f"{holder} is running in this checkout; wait for it to finish and try again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"`inv {' '.join(sys.argv[1:])}` (pid {os.getpid()})")
        handle.flush()
        try:
            _settle_interrupted_configure(replan=replan, required=settle_required)
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def _open_lock_file():
    """The lock file, opened without following a symlink (truncating it would truncate the target)."""
    import stat

    from cluster_template.errors import ClusterTemplateError

    try:
        descriptor = os.open(ROOT / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                             0o644)
    except OSError as exc:
        raise ClusterTemplateError(f"{LOCK_FILE}: cannot be opened ({exc.strerror}); it must be a plain file "
                                   f"(never a symlink): remove it and run again") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise ClusterTemplateError(f"{LOCK_FILE}: is not a plain file; remove it and run again")
    return os.fdopen(descriptor, "r+", encoding="utf-8", errors="replace")


def live_run_in_progress() -> bool:
    """Whether a mutating task holds the project lock right now (a dry run must leave its staging alone)."""
    import fcntl

    try:
        descriptor = os.open(ROOT / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _settle_interrupted_configure(*, replan: bool, required: bool) -> None:
    """Finish (or discard) a `configure` swap a crash interrupted, before any task that changes
    something works on the outputs: they are then entirely the old or entirely the new set."""
    from cluster_template import outputs

    if (ROOT / outputs.STAGING_DIR).exists() or (ROOT / outputs.STAGING_DIR).is_symlink():
        from cluster_template.run import Executor

        try:
            done = outputs.recover(Executor(report=lambda event: warn(event.describe())), ROOT, replan=replan)
        except outputs.SwapError as error:
            if required:
                raise
            warn(f"warning: {error}")
            return
        if done:
            warn(done)


def user_errors(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a ClusterTemplateError into its message and exit code, with no traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cluster_template.errors import ClusterTemplateError
        from cluster_template.run import redact_known

        try:
            return function(*args, **kwargs)
        except ClusterTemplateError as error:
            raise Exit(redact_known(f"error: {error}"), code=error.exit_code) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None
        except OSError as error:  # disk full, read-only folder, a path that changed under the task
            raise Exit(redact_known(f"error: {_describe_os_error(error)}"), code=1) from None

    return wrapper


def _describe_os_error(error: OSError) -> str:
    reason = error.strerror or str(error)
    where = error.filename if error.filename is not None else ""
    try:
        where = str(Path(where).relative_to(ROOT)) if where else ""
    except ValueError:
        pass
    return f"{where}: {reason}" if where else reason


def positive_number(option: str, value: Any) -> float:
    """The value of `--option` as a number greater than 0, or a clear error."""
    from cluster_template.errors import ClusterTemplateError

    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ClusterTemplateError(f"--{option} must be a number, got {value!r}") from None
    if number <= 0:
        raise ClusterTemplateError(f"--{option} must be greater than 0, got {value!r}")
    return number


def whole_number(option: str, value: Any, *, minimum: int = 1) -> int:
    """The value of `--option` as a whole number of at least `minimum`, or a clear error.

    Number options are declared with string defaults: invoke casts an int-default option itself and
    a bad value then ends in a traceback instead of this message."""
    from cluster_template.errors import ClusterTemplateError

    try:
        number = int(str(value))
    except ValueError:
        raise ClusterTemplateError(f"--{option} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ClusterTemplateError(f"--{option} must be at least {minimum}, got {number}")
    return number
