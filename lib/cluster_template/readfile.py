"""Read a local input file safely: a regular file only, and never more than a bound.

`nodes.yaml` as a FIFO would block forever, `/dev/zero` would fill memory before any size check,
and a directory or a symlink loop would raise deep inside a parser. The type is checked on the
open descriptor (opened non-blocking, so a FIFO cannot hang the open) and at most `limit + 1`
bytes are read. Standard library only: the up-to-date check uses it before anything heavy.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import ClusterTemplateError

DEFAULT_LIMIT = 1024 * 1024


class UnreadableInput(ClusterTemplateError):
    """A local input is not a regular file, too large, or cannot be read. `str()` is one line."""

    def __init__(self, name: str, reason: str, line: int | None = None):
        self.name, self.reason, self.line = name, reason, line
        super().__init__(f"{name}{'' if line is None else f':{line}'}: {reason}")


def read_bounded(path: Path, *, limit: int = DEFAULT_LIMIT, label: str | None = None) -> bytes:
    """The bytes of the regular file `path`; FileNotFoundError when it does not exist (callers
    phrase that themselves), UnreadableInput for everything else that is wrong with it."""
    name = label or str(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnreadableInput(name, "is a symlink to a file that does not exist") from None
        raise
    except OSError as exc:
        raise UnreadableInput(name, f"cannot be read: {_reason(exc)}") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableInput(name, f"is {_kind(mode)}, not a regular file")
        chunks, remaining = [], limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise UnreadableInput(name, f"cannot be read: {_reason(exc)}") from None
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise UnreadableInput(name, f"file is larger than {limit} bytes; refusing anything over {limit}")
    return data


def read_text(path: Path, *, limit: int = DEFAULT_LIMIT, label: str | None = None) -> str:
    """`read_bounded` decoded as UTF-8; UnreadableInput naming the line of the first bad byte."""
    data = read_bounded(path, limit=limit, label=label)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableInput(label or str(path), "is not UTF-8 text (binary content?)", line) from None


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symlink loop"
    return exc.strerror or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
