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

from ..nested import strings_in
from .kustomize import KUSTOMIZATION_FILENAMES, walk_folders, walk_sorted
from .yamldocs import YamlSyntaxError, load_documents

FORMAT = "kustomize-build-cache-1"
MAX_ENTRIES = 512
_MODULES = ("kustomize.py", "kustbuild.py", "buildcache.py", "../nested.py")
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


class _NotCacheable(Exception):
    """The build may read something outside the tree, or its kustomization does not parse."""


def build_inputs(root: Path, rel: str) -> list[str] | None:
    """Every file a kustomize build of `rel` could read (see the module docstring), sorted; None when
    the build may read something outside the tree."""
    files: set[str] = set()

    def visit(directory: str) -> list[str]:
        files.update(_files_below(root, directory))
        folders = []
        for name in KUSTOMIZATION_FILENAMES:
            path = root / directory / name
            if not path.is_file():
                continue
            try:
                documents = load_documents(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, YamlSyntaxError):
                raise _NotCacheable from None  # kubectl reports it; nothing to cache
            for value in strings_in(documents):
                if any(marker in value for marker in _REMOTE_MARKERS):
                    raise _NotCacheable
                target = _resolve(directory, value)
                if target == _OUTSIDE:
                    raise _NotCacheable
                if target is not None and (root / target).is_dir():
                    folders.append(target)
                elif target is not None and (root / target).is_file():
                    files.add(target)
        return folders

    try:
        walk_folders(rel, visit)
    except _NotCacheable:
        return None
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
    for current, _, filenames in walk_sorted(root / directory):
        for name in filenames:
            yield (current / name).relative_to(root).as_posix()
