"""A cache of successful `kubectl kustomize` outputs, keyed by everything the build could have read.

The key digests: this cache's format, the source of the builder modules, the kubectl binary (path,
size, modification time), the built directory, and the path and content of every file the build
could read — every file below the built directory and below each directory its kustomization files
name, and each file they name elsewhere (patches, generator inputs), followed transitively. A
kustomization naming anything remote, or a string that cannot be resolved, is not cached. Only
successful builds are stored, so a failure is always kubectl's fresh verdict. An entry is trusted only
when it names its own key and its content matches the digest it was stored with; anything else
(truncated, edited, another format) is ignored and the build runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .kustbuild import KUSTOMIZATION_FILENAMES

FORMAT = "kustomize-build-cache-1"
MAX_ENTRIES = 512
_MODULES = ("kustomize.py", "kustbuild.py", "buildcache.py")
_REMOTE_MARKERS = ("://", "github.com/", "gitlab.com/", "bitbucket.org/", "git@")


def _code_digest() -> str:
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _MODULES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


class BuildCache:
    """Entries under `directory` (created on first write)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._code = _code_digest()

    def key(self, root: Path, rel: str, kubectl: str) -> str | None:
        """The key of building `rel` (relative to `root`) with `kubectl`; None when not cacheable."""
        inputs = build_inputs(Path(root), rel)
        if inputs is None:
            return None
        try:
            binary = os.stat(kubectl)
        except OSError:
            return None
        digest = hashlib.sha256()
        for part in (FORMAT, self._code, os.path.realpath(kubectl), str(binary.st_size), str(binary.st_mtime_ns), rel):
            digest.update(part.encode() + b"\0")
        for path in inputs:
            try:
                content = (Path(root) / path).read_bytes()
            except OSError:
                return None
            digest.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
        return digest.hexdigest()

    def get(self, key: str) -> str | None:
        try:
            entry = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
            return None
        output = entry.get("output")
        if not isinstance(output, str) or entry.get("sha256") != hashlib.sha256(output.encode()).hexdigest():
            return None
        return output

    def put(self, key: str, output: str) -> None:
        """Store an entry (best effort: a cache that cannot be written only costs time)."""
        entry = {"format": FORMAT, "key": key, "sha256": hashlib.sha256(output.encode()).hexdigest(),
                 "output": output}
        target = self.directory / f"{key}.json"
        temporary = target.with_name(f".{key}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(temporary, target)
            self._prune()
        except OSError:
            temporary.unlink(missing_ok=True)

    def _prune(self) -> None:
        entries = sorted(self.directory.glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
        for path in entries[:-MAX_ENTRIES]:
            path.unlink(missing_ok=True)


def build_inputs(root: Path, rel: str) -> list[str] | None:
    """Every file a kustomize build of `rel` could read (see the module docstring), sorted; None when
    the build may read something outside the tree."""
    files: set[str] = set()
    pending, seen = [rel], set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        files.update(_files_below(root, directory))
        for name in KUSTOMIZATION_FILENAMES:
            path = root / directory / name
            if not path.is_file():
                continue
            try:
                from .yamldocs import YamlSyntaxError, load_documents

                documents = load_documents(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, YamlSyntaxError):
                return None  # kubectl reports it; nothing to cache
            for value in _strings(documents):
                if any(marker in value for marker in _REMOTE_MARKERS):
                    return None
                target = _resolve(directory, value)
                if target is None:
                    continue
                if target == _OUTSIDE:
                    return None
                if (root / target).is_dir():
                    pending.append(target)
                elif (root / target).is_file():
                    files.add(target)
    return sorted(files)


_OUTSIDE = "<outside the tree>"


def _resolve(directory: str, value: str) -> str | None:
    """The tree path a kustomization string may name (generator sources are `key=path`); `_OUTSIDE`
    for an existing absolute path or one that leaves the tree, None for no path."""
    candidate = value.split("=", 1)[-1].strip() if "\n" not in value else ""
    if not candidate:
        return None
    if candidate.startswith("/"):
        return _OUTSIDE if os.path.exists(candidate) else None
    target = posixpath.normpath(posixpath.join(directory, candidate))
    return _OUTSIDE if target == ".." or target.startswith("../") else target


def _files_below(root: Path, directory: str) -> Iterator[str]:
    base = root / directory
    for current, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            yield (Path(current) / name).relative_to(root).as_posix()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
