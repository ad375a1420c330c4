"""Where the offline JSON schemas live: CRD schemas (`crds/<group>/<kind>_<version>.json`), the
Talos config schema (`talos/config.schema.v<version>.json`) and talhelper's (`talhelper/`).

The project ships them: this package's folder holds every schema a template renders (see
`SOURCES.md` here for where each came from, and `inv template.update-schemas` to refresh the CRD
schemas from the pinned charts). That copy is used with no setting at all, so validation works offline
on a fresh clone. `CLUSTER_TEMPLATE_SCHEMA_DIR` overrides it with a directory of the same layout, which
is then authoritative: nothing is downloaded into it unless `CLUSTER_TEMPLATE_SCHEMA_SOURCES` names
where from. Only a schema the project does not ship (a version nothing here renders) is downloaded, once,
into the user cache `~/.cache/cluster-template/schemas`. The cache is not project state, so it is
written directly (also in dry runs), like pip's cache.

Kubernetes core schemas are not here: they come from the `kubernetes-validate` package
(`validate.schemas.core_schema_dir`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ClusterTemplateError

SCHEMA_DIR_ENV = "CLUSTER_TEMPLATE_SCHEMA_DIR"
SCHEMA_SOURCE_ENV = "CLUSTER_TEMPLATE_SCHEMA_SOURCES"
SHIPPED_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = Path("~/.cache/cluster-template/schemas")
# Base URLs per sub-folder; `<base>/<relative path below the sub-folder>` is the file's address.
DEFAULT_SOURCES = {
    "crds": "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main",
    "talos": "https://raw.githubusercontent.com/siderolabs/talos",
    "talhelper": "https://raw.githubusercontent.com/budimanjojo/talhelper/master/pkg/config/schemas",
}
TALOS_SCHEMA_VERSION = "1.12.11"


class SchemaUnavailable(ClusterTemplateError):
    """A schema is neither shipped, nor in the schema directory, nor downloadable."""


def schema_dir() -> Path:
    """The directory looked in first: `CLUSTER_TEMPLATE_SCHEMA_DIR`, else the shipped schemas."""
    configured = os.environ.get(SCHEMA_DIR_ENV)
    return Path(configured).expanduser() if configured else SHIPPED_DIR


def _download_dir() -> Path:
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


def shipped_versions(relative: str) -> list[str]:
    """The versions the project ships of the schema `relative` names (other versions of the same CRD
    kind, or the Talos versions), for messages."""
    folder, _, rest = relative.partition("/")
    if folder == "talos":
        return sorted(path.name.removeprefix("config.schema.").removesuffix(".json")
                      for path in (SHIPPED_DIR / "talos").glob("config.schema.v*.json"))
    if folder == "crds":
        group, _, name = rest.rpartition("/")
        kind = name.rpartition("_")[0]
        return sorted(path.stem.rpartition("_")[2]
                      for path in (SHIPPED_DIR / "crds" / group).glob(f"{kind}_*.json"))
    return []


def _shipped_note(relative: str) -> str:
    versions = shipped_versions(relative)
    if relative.startswith("talos/"):
        what = "Talos config schemas"
    else:
        group, _, name = relative.removeprefix("crds/").rpartition("/")
        what = f"schemas of {group} {re.sub(r'_[^_]*$', '', name)}"
    return (f"cluster-template ships {what} for {', '.join(versions)} only" if versions
            else f"cluster-template ships no {what}")


def ensure_schema(relative: str) -> Path | None:
    """Path of the schema `relative` to the schema directory: the shipped (or configured) copy, else
    the download cache, downloading it there when missing. Returns None when the source does not have
    it (an unknown kind); raises SchemaUnavailable when it cannot be fetched for another reason."""
    path = schema_dir() / relative
    if path.is_file():
        return path
    if os.environ.get(SCHEMA_DIR_ENV) and not os.environ.get(SCHEMA_SOURCE_ENV):
        return None
    folder = relative.partition("/")[0]
    base = _sources().get(folder)
    if base is None:
        return None
    path = _download_dir() / relative
    if path.is_file():
        return path
    import httpx

    url = f"{base}/{_remote_path(relative)}"
    try:
        response = httpx.get(url, timeout=30, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise SchemaUnavailable(
            f"schema {relative}: {_shipped_note(relative)}, it is not in {path.parent} and it could not be "
            f"downloaded from {url} ({exc}); use a shipped version, or set {SCHEMA_DIR_ENV} to a directory "
            "that has it") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SchemaUnavailable(f"schema {relative}: {_shipped_note(relative)}, and downloading {url} "
                                f"answered HTTP {response.status_code}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(response.content)
    os.replace(temporary, path)
    return path


def talos_schema(version: str = TALOS_SCHEMA_VERSION) -> Path:
    relative = f"talos/config.schema.v{version.removeprefix('v')}.json"
    path = ensure_schema(relative)
    if path is None:
        raise SchemaUnavailable(f"the Talos schema {relative} was not found at its source "
                                f"({_shipped_note(relative)})")
    return path


def talconfig_schema() -> Path:
    path = ensure_schema("talhelper/talconfig.schema.json")
    if path is None:
        raise SchemaUnavailable("talhelper's talconfig schema was not found at its source")
    return path


def crd_schema(relative: str) -> Path | None:
    """A CRD schema by `<group>/<kind>_<version>.json`: shipped, or fetched into the cache when missing."""
    return ensure_schema(f"crds/{relative}")
