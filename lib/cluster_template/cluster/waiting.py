"""The poll loop behind every wait: check, report what changed, sleep, give up at the deadline.

An API server that does not answer for a moment (a control plane rebooting during an upgrade, the
VIP moving) is part of what a wait waits through, so unreachability and 5xx answers are retried
until the deadline like any other "not yet"."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .. import heartbeat as heartbeat_module
from .errors import KubeAccessError, KubeError, KubeTimeout, KubeUnreachable

T = TypeVar("T")
Progress = Callable[[str], None]
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class Check(Generic[T]):
    """One look at the cluster: `done`, what is still awaited, a one-line status for the user."""

    done: bool
    status: str
    waiting_for: list[str] = field(default_factory=list)
    value: T | None = None


def transient(error: KubeAccessError) -> bool:
    return isinstance(error, KubeUnreachable) or (isinstance(error, KubeError) and error.status in TRANSIENT_STATUSES)


def poll_until(check: Callable[[], Check[T]], *, what: str, timeout: float, poll: float,
               progress: Progress | None = None, heartbeat: float = heartbeat_module.DEFAULT_SECONDS) -> Check[T]:
    """Call `check` until it reports done; KubeTimeout after `timeout` seconds naming what was
    still awaited (and the last API error, when the server stopped answering). `progress` hears
    each new status, and every `heartbeat` seconds how long the wait has lasted."""
    report = progress or (lambda _message: None)
    pulse = heartbeat_module.Heartbeat(what, report, heartbeat)
    deadline = time.monotonic() + timeout
    last_status: str | None = None
    waiting_for: list[str] = []
    api_problem: str | None = None
    while True:
        try:
            result = check()
        except KubeAccessError as error:
            if not transient(error):
                raise
            api_problem = _api_problem(error)
            status = f"waiting for {api_problem}"
        else:
            api_problem = None
            waiting_for, status = result.waiting_for, result.status
            if result.done:
                if status and status != last_status:
                    report(status)
                return result
        if status != last_status:
            report(status)
            last_status = status
        else:
            pulse.beat(status)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KubeTimeout(what, timeout, [*waiting_for, *([api_problem] if api_problem else [])])
        time.sleep(min(poll, remaining))


def _api_problem(error: KubeAccessError) -> str:
    if isinstance(error, KubeUnreachable):
        return f"the API server to answer ({error.detail})"
    assert isinstance(error, KubeError)
    return f"the API server to recover (it answered {error.status} {error.reason})"
