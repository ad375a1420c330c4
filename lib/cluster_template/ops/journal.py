"""A small JSON journal that lets a multi-node operation be interrupted and re-run.

One file per operation under `.inv/journal/` (git-ignored): the target the run works towards and,
per node, its state (`in-progress` once something was done to it, `done` once every gate after it
passed), the step reached, timestamps and the last error; and named records of one-off facts that
outlive any target (the bootstrap's etcd bootstrap). It is written atomically through the executor
after every change, so a run killed at any moment leaves a readable journal. A file that exists but
cannot be read is refused, never taken as empty: forgetting what it records (an etcd bootstrap
already sent) is what the journal exists to prevent.

The journal is a record, not the truth: a re-run still verifies each node against the cluster. It
only decides *how* a node is treated: a node `done` for the same target is checked and skipped, a
node `in-progress` is verified (it may be rebooting into the new version) before anything is
done to it again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ClusterTemplateError
from ..run import Executor
from ..safepath import inside

JOURNAL_DIR = Path(".inv") / "journal"
FORMAT = 1

PENDING = "pending"
IN_PROGRESS = "in-progress"
DONE = "done"


DEFAULT_RECOVERY = "delete it to start over (a re-run checks every node against the cluster again)"


class UnreadableJournal(ClusterTemplateError):
    """The journal file exists but is not a journal this version can read."""


class Journal:
    """The journal of one operation (`name`), e.g. `talos-upgrade` -> `.inv/journal/talos-upgrade.json`."""

    def __init__(self, root: Path, ex: Executor, name: str, *, recovery: str = DEFAULT_RECOVERY):
        """`recovery` tells the operator what to check before deleting an unreadable file."""
        self.root = Path(root)
        self.ex = ex
        self.relative = JOURNAL_DIR / f"{name}.json"
        self.path = inside(self.root, self.relative)  # never through a symlinked .inv/ out of the repository
        self._recovery = recovery
        self._lock = threading.Lock()
        self._data: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as error:
            raise UnreadableJournal(f"{self.relative} cannot be read ({error}); {self._recovery}") from None
        if (not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("nodes"), dict)
                or not all(isinstance(entry, dict) for entry in data["nodes"].values())
                or not isinstance(data.get("records", {}), dict)):
            raise UnreadableJournal(f"{self.relative} is not a journal of this version; {self._recovery}")
        return data

    # -- reading -----------------------------------------------------------------------------

    @property
    def target(self) -> dict[str, Any]:
        return dict(self._data.get("target") or {})

    def state(self, node: str) -> str:
        return str((self._data.get("nodes") or {}).get(node, {}).get("state", PENDING))

    def recorded(self, key: str) -> dict[str, Any] | None:
        entry = (self._data.get("records") or {}).get(key)
        return dict(entry) if isinstance(entry, dict) else None

    def expect(self, target: Mapping[str, Any]) -> bool:
        """Use the recorded node states only when they belong to a run towards `target`; otherwise
        forget them (in memory: nothing is written until `begin`). Returns whether they belong."""
        with self._lock:
            belongs = self._data.get("target") == dict(target)
            if self._data and not belongs:
                self._data = self._fresh(None)
            return belongs

    # -- writing -----------------------------------------------------------------------------

    def begin(self, target: Mapping[str, Any]) -> bool:
        """Start or continue a run towards `target`. Returns True when the journal already
        belonged to a run towards the same target (a resume); a different target starts afresh."""
        with self._lock:
            resumed = self._data.get("target") == dict(target)
            if not resumed:
                self._data = self._fresh(dict(target))
            self._data["runs"] = int(self._data.get("runs", 0)) + 1
            self._data["finished"] = None
            self._save()
        return resumed

    def mark(self, node: str, state: str, *, step: str | None = None, error: str | None = None,
             **facts: Any) -> None:
        with self._lock:
            entry = self._data.setdefault("nodes", {}).setdefault(node, {})
            entry["state"] = state
            if step is not None:
                entry["step"] = step
            entry["error"] = error
            entry["updated"] = _now()
            if state == IN_PROGRESS:
                entry.setdefault("started", _now())
            if state == DONE:
                entry["finished"] = _now()
            entry.update(facts)
            self._save()

    def finish(self) -> None:
        with self._lock:
            self._data["finished"] = _now()
            self._save()

    def record(self, key: str, **facts: Any) -> None:
        """Keep `facts` under `key` (with the time, unless `facts` has its own `at`), whatever
        target later runs work towards."""
        with self._lock:
            if not self._data:
                self._data = self._fresh(None)
            self._data.setdefault("records", {})[key] = {"at": _now(), **facts}
            self._save()

    def forget(self, key: str) -> None:
        with self._lock:
            if (self._data.get("records") or {}).pop(key, None) is not None:
                self._save()

    def _fresh(self, target: dict[str, Any] | None) -> dict[str, Any]:
        """A journal for a new run: the node states go, the records stay."""
        return {"format": FORMAT, "target": target, "started": _now(), "nodes": {},
                "records": dict(self._data.get("records") or {})}

    def _save(self) -> None:
        if not self._data:
            return
        text = json.dumps(self._data, indent=1, sort_keys=True) + "\n"
        self.ex.write_file(self.path, text, label=str(self.relative), quiet=True)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
