"""Wall-clock time per named stage of a run, so a benchmark can say where the time goes.

The library records; callers decide whether to show it (`inv configure --timings`)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class Stopwatch:
    """Accumulates seconds per stage name, in the order the stages first ran."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.stages[name] = self.stages.get(name, 0.0) + seconds


def stage(watch: Stopwatch | None, name: str):
    """`watch.stage(name)`, or a no-op context when there is no stopwatch."""
    return watch.stage(name) if watch is not None else contextlib.nullcontext()
