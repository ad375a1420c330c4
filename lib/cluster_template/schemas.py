"""Where the offline JSON schemas live: CRD schemas (`crds/<group>/<kind>_<version>.json`) and the
Talos config schema (`talos/config.schema.v<version>.json`).

The directory comes from `CLUSTER_TEMPLATE_SCHEMA_DIR` (tests and CI point it at a vendored copy),
else the user cache `~/.cache/cluster-template/schemas`. A schema missing from the cache is
downloaded once from its public source and kept, so validation works offline after the first run.
A directory given by `CLUSTER_TEMPLATE_SCHEMA_DIR` is authoritative: nothing is downloaded into it
unless `CLUSTER_TEMPLATE_SCHEMA_SOURCES` names where from. The cache is not project state, so it is
written directly (also in dry runs), like pip's cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ClusterTemplateError

SCHEMA_DIR_ENV = "CLUSTER_TEMPLATE_SCHEMA_DIR"
SCHEMA_SOURCE_ENV = "CLUSTER_TEMPLATE_SCHEMA_SOURCES"
DEFAULT_CACHE = Path("~/.cache/cluster-template/schemas")
# Base URLs per sub-folder; `<base>/<relative path below the sub-folder>` is the file's address.
DEFAULT_SOURCES = {
    "crds": "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main",
    "talos": "https://raw.githubusercontent.com/siderolabs/talos",
    "talhelper": "https://raw.githubusercontent.com/budimanjojo/talhelper/master/pkg/config/schemas",
}
TALOS_SCHEMA_VERSION = "1.12.11"


class SchemaUnavailable(ClusterTemplateError):
    """A schema is neither in the schema directory nor downloadable."""


def schema_dir() -> Path:
    configured = os.environ.get(SCHEMA_DIR_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_CACHE.expanduser()


def _sources() -> dict[str, str]:
    """Download locations, overridable as `crds=URL,talos=URL` (used by tests with a local server)."""
    sources = dict(DEFAULT_SOURCES)
    for item in filter(None, os.environ.get(SCHEMA_SOURCE_ENV, "").split(",")):
        name, _, url = item.partition("=")
        sources[name.strip()] = url.strip().rstrip("/")
    return sources


def _remote_path(relative: str) -> str:
    folder, _, rest = relative.partition("/")
    if folder == "talos":
        # talos/config.schema.v1.12.11.json -> v1.12.11/pkg/machinery/config/schemas/config.schema.json
        version = rest.removeprefix("config.schema.").removesuffix(".json")
        return f"{version}/pkg/machinery/config/schemas/config.schema.json"
    if folder == "talhelper":
        return "talconfig.json"
    return rest


def ensure_schema(relative: str) -> Path | None:
    """Path of the schema `relative` to the schema directory, downloading it into the cache when it is
    missing there. Returns None when the source does not have it (an unknown kind); raises
    SchemaUnavailable when it cannot be fetched for another reason."""
    path = schema_dir() / relative
    if path.is_file():
        return path
    if os.environ.get(SCHEMA_DIR_ENV) and not os.environ.get(SCHEMA_SOURCE_ENV):
        return None
    folder = relative.partition("/")[0]
    base = _sources().get(folder)
    if base is None:
        return None
    import httpx

    url = f"{base}/{_remote_path(relative)}"
    try:
        response = httpx.get(url, timeout=30, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SchemaUnavailable(
            f"schema {relative} is not in {schema_dir()} and could not be downloaded from {url} ({exc}); "
            f"set {SCHEMA_DIR_ENV} to a directory that has it") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SchemaUnavailable(f"downloading {url} answered HTTP {response.status_code}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(response.content)
    os.replace(temporary, path)
    return path


def talos_schema() -> Path:
    relative = f"talos/config.schema.v{TALOS_SCHEMA_VERSION}.json"
    path = ensure_schema(relative)
    if path is None:
        raise SchemaUnavailable(f"the Talos schema {relative} was not found at its source")
    return path


def talconfig_schema() -> Path:
    path = ensure_schema("talhelper/talconfig.schema.json")
    if path is None:
        raise SchemaUnavailable("talhelper's talconfig schema was not found at its source")
    return path


def crd_schema(relative: str) -> Path | None:
    """A CRD schema by `<group>/<kind>_<version>.json`, fetched into the cache when missing."""
    return ensure_schema(f"crds/{relative}")
