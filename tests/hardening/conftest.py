"""The sentinel beside the project copy, and the shape of a clean refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

SENTINEL_TEXT = "outside the repository: never read, written, truncated or deleted\n"


@pytest.fixture
def sentinel(tmp_path) -> Path:
    """A file beside the project copy; every test asserts it is untouched."""
    path = tmp_path / "sentinel.txt"
    path.write_text(SENTINEL_TEXT)
    return path


def assert_untouched(sentinel: Path) -> None:
    assert sentinel.is_file() and not sentinel.is_symlink()
    assert sentinel.read_text() == SENTINEL_TEXT


def assert_one_line_error(result, *fragments: str) -> None:
    """Failed with a message (no traceback) that contains each fragment."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
