"""Up-to-date check for `inv configure`, using only the standard library so it runs before any heavy
import.

A successful configure records two digests in `.inv/configure-state.json`: one of everything the
outputs depend on (the two config files, the local key/token/tunnel files, every template, the
library's own source, the schema directory setting) and one of the outputs as written. When both
digests still match, rendering, encrypting and validating again would produce the same bytes, so
configure can stop at once. Any edit — to an input, to the code, or by hand to an output — makes
the digests differ and the full pipeline runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from .readfile import UnreadableInput, read_bounded
from .safepath import Inside, UnsafePath, inside

STATE_FILE = Path(".inv") / "configure-state.json"
INPUT_FILES = ("cluster.yaml", "nodes.yaml", "age.key", "github-deploy.key", "github-push-token.txt",
               "cloudflare-tunnel.json")
TEMPLATE_DIR = Path("templates") / "config"
MANIFEST_FILE = ".generated-files"
SETTINGS_ENV = ("CLUSTER_TEMPLATE_SCHEMA_DIR", "CLUSTER_TEMPLATE_SCHEMA_SOURCES")
LIBRARY_DIR = Path(__file__).resolve().parent
# Larger than any input or output the project writes; a file beyond it is digested as unreadable.
MAX_DIGEST_BYTES = 64 * 1024 * 1024


def _add_file(digest, label: str, path: Path) -> None:
    digest.update(label.encode() + b"\0")
    try:
        digest.update(read_bounded(path, limit=MAX_DIGEST_BYTES))
    except FileNotFoundError:
        digest.update(b"\0missing")
    except UnreadableInput:  # not a regular file: configure runs in full and reports it
        digest.update(b"\0unreadable" + os.urandom(8))
    digest.update(b"\0")


def _add_bytes(digest, label: str, content: bytes) -> None:
    """`_add_file` of a regular file holding `content`."""
    digest.update(label.encode() + b"\0")
    # read_bounded refuses a file over the bound, so such a file never matches a recorded digest
    digest.update(content if len(content) <= MAX_DIGEST_BYTES else b"\0unreadable" + os.urandom(8))
    digest.update(b"\0")


def _tree_files(root: Path, suffix: str | None = None) -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        files += [Path(directory) / name for name in sorted(names) if suffix is None or name.endswith(suffix)]
    return files


def inputs_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for name in INPUT_FILES:
        _add_file(digest, name, root / name)
    for path in _tree_files(root / TEMPLATE_DIR):
        _add_file(digest, str(path.relative_to(root)), path)
    for path in _tree_files(LIBRARY_DIR, ".py"):
        _add_file(digest, "lib:" + str(path.relative_to(LIBRARY_DIR)), path)
    for name in SETTINGS_ENV:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return digest.hexdigest()


def _manifest_entries(text: bytes) -> list[str]:
    try:
        lines = text.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return []
    return [line for line in lines if line and not line.startswith("#")]


def outputs_digest(root: Path) -> str:
    digest = hashlib.sha256()
    manifest = root / MANIFEST_FILE
    _add_file(digest, MANIFEST_FILE, manifest)
    try:
        entries = _manifest_entries(read_bounded(manifest, limit=MAX_DIGEST_BYTES))
    except (FileNotFoundError, UnreadableInput):
        entries = []
    within = Inside(root)
    for line in entries:
        if within.contains(line):
            _add_file(digest, line, root / line)
        else:  # never read outside the repository; configure refuses the entry
            digest.update(b"\0unsafe" + os.urandom(8))
    return digest.hexdigest()


def written_outputs_digest(manifest: bytes, files: Mapping[str, bytes]) -> str:
    """`outputs_digest` of the tree configure has just swapped in, from the bytes it wrote there
    (`manifest` as `.generated-files`, `files` by path) instead of reading them all back. Every
    entry passed configure's path checks; one missing from `files` cannot happen after a
    successful swap, and is digested so that the next run does not take the tree as up to date."""
    digest = hashlib.sha256()
    _add_bytes(digest, MANIFEST_FILE, manifest)
    for line in _manifest_entries(manifest):
        content = files.get(line)
        if content is None:
            digest.update(b"\0missing" + os.urandom(8))
        else:
            _add_bytes(digest, line, content)
    return digest.hexdigest()


def read_state(root: Path) -> dict:
    """The state the last successful configure recorded; {} when missing, corrupt or not a file
    (configure then runs in full and rewrites it at the end)."""
    try:
        state = json.loads(read_bounded(inside(root, STATE_FILE), limit=MAX_DIGEST_BYTES))
    except (FileNotFoundError, ValueError, UnreadableInput, UnsafePath):
        return {}
    return state if isinstance(state, dict) else {}


def is_up_to_date(root: Path, inputs: str | None = None) -> bool:
    """Whether the last successful configure's outputs are still exactly what it would write now.
    `inputs`: `inputs_digest(root)`, when the caller has taken it already."""
    state = read_state(root)
    if not state:
        return False
    if (root / ".configure-staging").exists():
        return False  # an interrupted swap must be settled first
    return state.get("inputs") == (inputs or inputs_digest(root)) and state.get("outputs") == outputs_digest(root)
