"""Progress on long waits: a "still waiting for X (2m10s)" line every so often, so an operator
never stares at a silent terminal while a tool or a health gate takes its time.

One mechanism for every wait: the executor beats while a long-running tool runs, the gates'
poll loop while a gate is not passed yet. The line goes to a callback (the task layer prints);
what it names is already redacted by whoever builds it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

# Seconds between two progress lines of one wait.
DEFAULT_SECONDS = 30.0
# Overrides DEFAULT_SECONDS for every executor a task creates (a positive number of seconds).
SECONDS_ENV = "CLUSTER_TEMPLATE_PROGRESS_SECONDS"


def interval_from_env() -> float:
    from .errors import ClusterTemplateError

    raw = os.environ.get(SECONDS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ClusterTemplateError(f"{SECONDS_ENV}={raw!r} must be a positive number of seconds")
    return seconds


def elapsed(seconds: float) -> str:
    """`2m10s`, `45s`, `1h02m`."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


class Heartbeat:
    """Says `still waiting for <what> (<elapsed>)` through `say` at most every `every` seconds;
    call `beat()` as often as convenient while waiting."""

    def __init__(self, what: str, say: Callable[[str], None], every: float = DEFAULT_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.say = say
        self.every = every
        self.clock = clock
        self.started = clock()
        self._next = self.started + every

    def running_for(self) -> float:
        return self.clock() - self.started

    def until_next(self) -> float:
        """Seconds until the next line is due (never negative)."""
        return max(0.0, self._next - self.clock())

    def beat(self, detail: str = "") -> bool:
        """Say the line if it is due; returns whether it did."""
        now = self.clock()
        if now < self._next:
            return False
        self._next = now + self.every
        line = f"still waiting for {self.what} ({elapsed(now - self.started)})"
        self.say(f"{line}: {detail}" if detail else line)
        return True
