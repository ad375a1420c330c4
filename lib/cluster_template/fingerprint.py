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
from pathlib import Path

STATE_FILE = Path(".inv") / "configure-state.json"
INPUT_FILES = ("cluster.yaml", "nodes.yaml", "age.key", "github-deploy.key", "github-push-token.txt",
               "cloudflare-tunnel.json")
TEMPLATE_DIR = Path("templates") / "config"
MANIFEST_FILE = ".generated-files"
SETTINGS_ENV = ("CLUSTER_TEMPLATE_SCHEMA_DIR", "CLUSTER_TEMPLATE_SCHEMA_SOURCES")
LIBRARY_DIR = Path(__file__).resolve().parent


def _add_file(digest, label: str, path: Path) -> None:
    digest.update(label.encode() + b"\0")
    try:
        digest.update(path.read_bytes())
    except FileNotFoundError:
        digest.update(b"\0missing")
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


def outputs_digest(root: Path) -> str:
    digest = hashlib.sha256()
    manifest = root / MANIFEST_FILE
    _add_file(digest, MANIFEST_FILE, manifest)
    if manifest.is_file():
        for line in manifest.read_text().splitlines():
            if line and not line.startswith("#"):
                _add_file(digest, line, root / line)
    return digest.hexdigest()


def is_up_to_date(root: Path) -> bool:
    """Whether the last successful configure's outputs are still exactly what it would write now."""
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return False
    if (root / ".configure-staging").exists():
        return False  # an interrupted swap must be settled first
    return state.get("inputs") == inputs_digest(root) and state.get("outputs") == outputs_digest(root)
