"""Paths inside the repository, and only there.

Some paths the tasks act on come from files anyone can edit or commit (`.generated-files`, the
staging plan) or live where a symlink can be planted (the outputs, the staging tree, the lock and
state files). Every such path goes through `inside`, which refuses an absolute path, a `..` part,
and a path whose resolution leaves the repository through a symlink (or loops). Standard library
only: the up-to-date check imports this before anything heavy.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .errors import ClusterTemplateError


class UnsafePath(ClusterTemplateError):
    """A path would reach outside the repository, or is not one the task may touch."""


def inside(root: Path, relative: str | os.PathLike[str], *, source: str = "") -> Path:
    """`root / relative`, or UnsafePath when it is absolute, climbs with `..`, or resolves (through
    a symlink anywhere on the way) to a place outside `root`. `source` names where the path came from."""
    text = os.fspath(relative)
    where = f"{source}: " if source else ""
    pure = PurePosixPath(text)
    if not text or "\0" in text or "\\" in text or pure.is_absolute() or ".." in pure.parts or pure.parts == (".",):
        raise UnsafePath(f"{where}'{text}' is not a path inside the repository")
    path = Path(root) / pure
    real_root = Path(root).resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafePath(f"{where}'{text}' goes through a symlink loop") from None
    if resolved != real_root and real_root not in resolved.parents:
        raise UnsafePath(f"{where}'{text}' leads outside the repository through a symlink ({resolved})")
    return path


def is_inside(root: Path, relative: str | os.PathLike[str]) -> bool:
    try:
        inside(root, relative)
    except UnsafePath:
        return False
    return True
