"""Documents to apply: their identity, and whether the live object already holds what they set.

"Unchanged" means: every field the document sets has that value in the live object (fields the
server added, such as defaults and status, do not matter), and no field this field manager applied
before has disappeared from the document (server-side apply would remove it)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import KubeManifestError

# Where a namespaced document that names no namespace goes, as with kubectl and a context that
# sets none.
DEFAULT_NAMESPACE = "default"
# Applied first, so that what later documents need already exists.
APPLY_PRIORITY = {"Namespace": 0, "CustomResourceDefinition": 1}


@dataclass(frozen=True)
class Manifest:
    """One document with its identity checked."""

    document: dict
    api_version: str
    kind: str
    name: str
    namespace: str | None

    def subject(self, namespace: str | None) -> str:
        """`Kind/namespace/name`, or `Kind/name` for a cluster-scoped object."""
        return f"{self.kind}/{namespace}/{self.name}" if namespace else f"{self.kind}/{self.name}"


def manifest(document: object, index: int) -> Manifest:
    """Check that a document names its apiVersion, kind and metadata.name."""
    if not isinstance(document, dict):
        raise KubeManifestError(f"document {index + 1} is not a mapping")
    metadata = document.get("metadata")
    api_version, kind = document.get("apiVersion"), document.get("kind")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    missing = [key for key, value in (("apiVersion", api_version), ("kind", kind), ("metadata.name", name))
               if not isinstance(value, str) or not value]
    if missing:
        label = f"{kind}/{name}" if kind and name else f"document {index + 1}"
        raise KubeManifestError(f"{label} cannot be applied: it has no {', '.join(missing)}")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return Manifest(document, str(api_version), str(kind), str(name), str(namespace) if namespace else None)


def secret_values(document: dict) -> list[str]:
    """The values of a Secret (encoded and decoded), to register with the redactor."""
    if document.get("kind") != "Secret":
        return []
    values: list[str] = []
    string_data, data = document.get("stringData"), document.get("data")
    for value in (string_data.values() if isinstance(string_data, dict) else []):
        values.append(str(value))
    for value in (data.values() if isinstance(data, dict) else []):
        values.append(str(value))
        try:
            values.append(base64.b64decode(str(value), validate=True).decode())
        except (ValueError, UnicodeDecodeError):
            pass
    return values


def comparable(document: dict) -> dict:
    """The document as the live object would show it: a Secret's write-only `stringData` becomes
    base64 `data`, and what the server owns (status, apiVersion/kind) is left out."""
    desired = copy.deepcopy(document)
    for key in ("apiVersion", "kind", "status"):
        desired.pop(key, None)
    if document.get("kind") == "Secret" and isinstance(desired.get("stringData"), dict):
        data = dict(desired.get("data") or {})
        for key, value in desired.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        desired["data"] = data
    return desired


def holds(desired: Any, live: Any) -> bool:
    """True when `live` has every field `desired` sets, with the same value (lists element-wise).
    A null in the document sets nothing (server-side apply ignores it)."""
    if desired is None or (_empty(desired) and _empty(live)):
        return True
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(holds(value, live.get(key)) if key in live else _empty(value) for key, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(map(holds, desired, live))
    if isinstance(desired, bool) or isinstance(live, bool):
        return isinstance(desired, bool) and isinstance(live, bool) and desired == live
    return desired == live


def _empty(value: Any) -> bool:
    # The server drops empty maps and lists and null fields, e.g. `creationTimestamp: null` in
    # `kubectl create --dry-run -o yaml` output.
    return value is None or value == {} or value == []


def owned_paths(live: dict, field_manager: str) -> set[tuple[str, ...]]:
    """Field paths (dict keys) that `field_manager` set by server-side apply, from managedFields."""
    paths: set[tuple[str, ...]] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            paths.update(_field_paths(entry.get("fieldsV1") or {}, ()))
    return paths


def _field_paths(fields: dict, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for key, child in fields.items():
        if key == ".":
            continue
        if not key.startswith("f:"):
            # k:{...}, v:..., i:N address list items: the list itself is what the document sets.
            if prefix:
                yield prefix
            continue
        path = prefix + (key[2:],)
        if isinstance(child, dict) and any(k != "." for k in child):
            yield from _field_paths(child, path)
        else:
            yield path


def has_path(document: Any, path: tuple[str, ...]) -> bool:
    node = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def needs_apply(document: dict, live: dict, field_manager: str) -> bool:
    """Whether applying `document` over `live` would change anything."""
    desired = comparable(document)
    if not holds(desired, live):
        return True
    return any(not has_path(document, path) and not has_path(desired, path)
               for path in owned_paths(live, field_manager))
