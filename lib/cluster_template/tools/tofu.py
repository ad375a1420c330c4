"""OpenTofu: argv builders for the commands `inv infra.*` runs, and readers of tofu's error text.

Every command that could prompt gets `-input=false`: the executor captures tofu's output, so a
prompt would wait on an answer nobody can see. Confirmation happens in the task instead, which
then passes `-auto-approve` / `-force`. OpenTofu parses flags with Go's `flag` package, which
stops at the first positional argument, so pass-through arguments go before a plan file or a
lock ID.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

TOFU = "tofu"
PLAN_FILE = "tfplan"

# Environment for every tofu run: never ask for input, and word messages for a wrapper (they
# stop telling the user to run `tofu apply` themselves).
AUTOMATION_ENV = {"TF_INPUT": "0", "TF_IN_AUTOMATION": "1"}
# Seconds tofu gets after SIGINT (and again after SIGTERM) to finish the in-flight resource
# operations, write the state and release its lock before it is killed.
STOP_GRACE = 60.0


def _color(no_color: bool) -> list[str]:
    return ["-no-color"] if no_color else []


def init(extra: Sequence[str] = (), *, backend: bool = True, no_color: bool = False) -> list[str]:
    """`tofu init`; with backend=False only the providers are installed (enough for validate)."""
    argv = [TOFU, "init", "-input=false", *_color(no_color)]
    if not backend:
        argv.append("-backend=false")
    return [*argv, *extra]


def plan(extra: Sequence[str] = (), *, plan_file: str = PLAN_FILE, no_color: bool = False) -> list[str]:
    """`tofu plan`, saving the plan for `apply_plan`."""
    return [TOFU, "plan", "-input=false", f"-out={plan_file}", *_color(no_color), *extra]


def apply_plan(extra: Sequence[str] = (), *, plan_file: str = PLAN_FILE, no_color: bool = False) -> list[str]:
    """`tofu apply PLAN`: exactly the saved plan (no approval prompt for a saved plan)."""
    return [TOFU, "apply", "-input=false", *_color(no_color), *extra, plan_file]


def apply_auto(extra: Sequence[str] = (), *, no_color: bool = False) -> list[str]:
    """`tofu apply -auto-approve`: plan and apply in one step."""
    return [TOFU, "apply", "-input=false", "-auto-approve", *_color(no_color), *extra]


def destroy(extra: Sequence[str] = (), *, no_color: bool = False) -> list[str]:
    return [TOFU, "destroy", "-input=false", "-auto-approve", *_color(no_color), *extra]


def output(extra: Sequence[str] = (), *, no_color: bool = False) -> list[str]:
    return [TOFU, "output", *_color(no_color), *extra]


def state_list(extra: Sequence[str] = ()) -> list[str]:
    return [TOFU, "state", "list", *extra]


def force_unlock(lock_id: str, extra: Sequence[str] = ()) -> list[str]:
    """`tofu force-unlock -force ID` (the task has already asked)."""
    return [TOFU, "force-unlock", "-force", *extra, lock_id]


def validate(extra: Sequence[str] = (), *, no_color: bool = False) -> list[str]:
    return [TOFU, "validate", *_color(no_color), *extra]


def fmt(extra: Sequence[str] = (), *, check: bool = False) -> list[str]:
    """`tofu fmt -recursive`; with check=True nothing is written and exit code 3 means "unformatted"."""
    argv = [TOFU, "fmt", "-recursive"]
    if check:
        argv += ["-check", "-diff"]
    return [*argv, *extra]


FMT_CHECK_UNFORMATTED = 3

# "Lock Info:\n  ID:        0b1e…" in the diagnostic tofu prints when the state is locked.
_LOCK_ID = re.compile(r"^\s*ID:\s+(\S+)\s*$", re.MULTILINE)
_STATE_LOCKED = "Error acquiring the state lock"
_BACKEND_CHANGED = ("Backend configuration changed", "Backend initialization required")


def locked_by_other(stderr: str) -> str | None:
    """The lock ID when tofu failed because someone else holds the state lock, else None."""
    if _STATE_LOCKED not in stderr:
        return None
    match = _LOCK_ID.search(stderr)
    return match.group(1) if match else None


def needs_reinit(stderr: str) -> bool:
    """Whether tofu refused to run because the backend configuration changed since `init`."""
    return any(marker in stderr for marker in _BACKEND_CHANGED)
