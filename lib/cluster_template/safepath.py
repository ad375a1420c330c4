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


def _checked(relative: str | os.PathLike[str], where: str) -> PurePosixPath:
    text = os.fspath(relative)
    pure = PurePosixPath(text)
    if not text or "\0" in text or "\\" in text or pure.is_absolute() or ".." in pure.parts or pure.parts == (".",):
        raise UnsafePath(f"{where}'{text}' is not a path inside the repository")
    return pure


def _refuse_outside(where: str, text: str, real_root: Path, resolved: Path) -> None:
    if resolved != real_root and real_root not in resolved.parents:
        raise UnsafePath(f"{where}'{text}' leads outside the repository through a symlink ({resolved})")


def inside(root: Path, relative: str | os.PathLike[str], *, source: str = "") -> Path:
    """`root / relative`, or UnsafePath when it is absolute, climbs with `..`, or resolves (through
    a symlink anywhere on the way) to a place outside `root`. `source` names where the path came from."""
    where = f"{source}: " if source else ""
    pure = _checked(relative, where)
    path = Path(root) / pure
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafePath(f"{where}'{os.fspath(relative)}' goes through a symlink loop") from None
    _refuse_outside(where, os.fspath(relative), Path(root).resolve(), resolved)
    return path


class Inside:
    """`inside` for the many paths of one pass over a tree (a plan, a swap, a manifest), with the
    same refusals: each folder is resolved once and a path's last part is checked with `lstat`.

    When the last part is not a symlink, the path resolves to its resolved folder joined with that
    name, so nothing is skipped; a symlink there is resolved in full. Keep one only for one pass:
    a folder replaced by a symlink after it was resolved is seen by the next pass, as before."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.real_root = self.root.resolve()
        # folder → (its resolution, whether that is the root or inside it)
        self._folders: dict[PurePosixPath, tuple[Path, bool]] = {}

    def __call__(self, relative: str | os.PathLike[str], *, source: str = "") -> Path:
        where = f"{source}: " if source else ""
        pure = _checked(relative, where)
        path = self.root / pure
        try:
            if path.is_symlink():
                resolved = path.resolve()
            else:
                folder = self._folders.get(pure.parent)
                if folder is None:
                    real = (self.root / pure.parent).resolve()
                    folder = self._folders[pure.parent] = (real, real == self.real_root
                                                           or self.real_root in real.parents)
                if folder[1]:  # a name (never "..", not a symlink) in a folder inside the root
                    return path
                resolved = folder[0] / pure.name
        except (OSError, RuntimeError):  # a symlink loop
            raise UnsafePath(f"{where}'{os.fspath(relative)}' goes through a symlink loop") from None
        _refuse_outside(where, os.fspath(relative), self.real_root, resolved)
        return path

    def contains(self, relative: str | os.PathLike[str]) -> bool:
        try:
            self(relative)
        except UnsafePath:
            return False
        return True


def is_inside(root: Path, relative: str | os.PathLike[str]) -> bool:
    try:
        inside(root, relative)
    except UnsafePath:
        return False
    return True
