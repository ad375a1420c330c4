"""Objects known to pass their schema checks, kept between runs so an unchanged object is not
validated again.

Checking an object against its schema is a pure function of the object, the schema files it uses
and the validator's code. The key digests all of them: this cache's format, the source of every
module of this package and of jsonschema, the schema's `source` (path and digest of the schema file, and of the core
definitions), and the object as canonical JSON. Only passes are stored, so every problem is always
found afresh; a key that cannot be made (a value JSON cannot hold) is never cached. The file is
written atomically at the end of a run, bounded in size, and anything unreadable in it is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "schema-verdicts-1"
MAX_ENTRIES = 8192
FILE_NAME = "passed.json"


def _code_digest() -> str:
    """This package's source and jsonschema's (an upgrade may judge the same object otherwise)."""
    import importlib.util

    digest = hashlib.sha256()
    spec = importlib.util.find_spec("jsonschema")
    locations = spec.submodule_search_locations if spec else None
    library = sorted(Path(next(iter(locations))).glob("*.py")) if locations else []
    for path in [*sorted(Path(__file__).resolve().parent.glob("*.py")), *library]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Verdicts:
    """The passes recorded under `directory` (read at once, written by `save`)."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / FILE_NAME
        self._code = _code_digest()
        self._known: dict[str, None] = dict.fromkeys(self._load())  # insertion order: oldest first
        self._added = False

    def _load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return []
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("code") != self._code:
            return []
        passed = data.get("passed")
        return [key for key in passed if isinstance(key, str)] if isinstance(passed, list) else []

    def key(self, source: str, document: Any) -> str | None:
        if not source or not _plain(document):
            return None
        try:
            canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return None
        return hashlib.sha256(f"{source}\0{canonical}".encode()).hexdigest()

    def passed(self, key: str | None) -> bool:
        if key is None or key not in self._known:
            return False
        del self._known[key]  # most recently used last, so pruning drops the oldest
        self._known[key] = None
        return True

    def add(self, key: str | None) -> None:
        if key is not None and key not in self._known:
            self._known[key] = None
            self._added = True

    def save(self) -> None:
        """Write the passes (best effort: a cache that cannot be written only costs time)."""
        if not self._added:
            return
        keys = list(self._known)[-MAX_ENTRIES:]
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"format": FORMAT, "code": self._code, "passed": keys}), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)


def _plain(value: Any) -> bool:
    """Whether JSON holds `value` exactly (string keys only: 1 and "1" must not share a key)."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


def checked(verdicts: Verdicts | None, source: str, document: Any, run: Callable[[], list]) -> list:
    """The problems `run` finds in `document` (checked against the schema `source` names), or none
    without running it when `verdicts` knows the document passed; a pass is recorded."""
    if verdicts is None:
        return run()
    key = verdicts.key(source, document)
    if verdicts.passed(key):
        return []
    problems = run()
    if not problems:
        verdicts.add(key)
    return problems
