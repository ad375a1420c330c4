"""Documents to apply: their identity, and whether the live object already holds what they set.

"Unchanged" means: every field the document sets has that value in the live object (fields the
server added, such as defaults and status, do not matter), and no field this field manager applied
before has disappeared from the document (server-side apply would remove it), down to the fields
of one item of an associative list (one container's env, say), as managedFields records them."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import KubeManifestError

# Where a namespaced document that names no namespace goes, as with kubectl and a context that
# sets none.
DEFAULT_NAMESPACE = "default"
# Applied first, so that what later documents need already exists.
APPLY_PRIORITY = {"Namespace": 0, "CustomResourceDefinition": 1}

# A key field an item leaves out is matched with the value the server defaults it to: container
# ports are keyed by containerPort and protocol, and the server writes `"protocol":"TCP"` into the key.
_KEY_DEFAULTS = {"protocol": "TCP"}


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


def holds(desired: Any, live: Any, keyed: dict[tuple[str, ...], tuple[str, ...]] | None = None,
          path: tuple[str, ...] = ()) -> bool:
    """True when `live` has every field `desired` sets, with the same value. A null in the document
    sets nothing (server-side apply ignores it). Lists compare element-wise, except the associative
    lists in `keyed` (field path, `*` for any list item -> key fields): there each desired item must
    be held by the live item with its key, and the live list may hold more (other managers' items)."""
    keyed = keyed or {}
    if desired is None or (_empty(desired) and _empty(live)):
        return True
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(holds(value, live.get(key), keyed, path + (key,)) if key in live else _empty(value)
                   for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list):
            return False
        item_path = path + ("*",)
        if path in keyed:
            return all(_held_by_key(item, live, keyed, item_path, keyed[path]) for item in desired)
        return len(desired) == len(live) and all(holds(d, v, keyed, item_path) for d, v in zip(desired, live))
    if isinstance(desired, bool) or isinstance(live, bool):
        return isinstance(desired, bool) and isinstance(live, bool) and desired == live
    return desired == live


def _held_by_key(item: Any, live: list, keyed: dict[tuple[str, ...], tuple[str, ...]], path: tuple[str, ...],
                 fields: tuple[str, ...]) -> bool:
    if not isinstance(item, dict):
        return False
    key = {field: item.get(field, _KEY_DEFAULTS.get(field)) for field in fields}
    return any(_keyed(candidate, key) and holds(item, candidate, keyed, path) for candidate in live)


def associative_lists(live: dict) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The lists of `live` that managedFields (any manager's) address by key: field path (`*` for
    any list item) -> the key fields. The server knows each kind's schema; its managedFields are
    where the client can read it."""
    found: dict[tuple[str, ...], tuple[str, ...]] = {}

    def walk(fields: dict, path: tuple[str, ...]) -> None:
        for key, child in fields.items():
            kind, _, text = key.partition(":")
            if kind == "f" and isinstance(child, dict):
                walk(child, path + (text,))
            elif kind == "k" and isinstance(child, dict):
                found[path] = tuple(sorted(json.loads(text)))
                walk(child, path + ("*",))

    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        walk(entry.get("fieldsV1") or {}, ())
    return found


def _empty(value: Any) -> bool:
    # The server drops empty maps and lists and null fields, e.g. `creationTimestamp: null` in
    # `kubectl create --dry-run -o yaml` output.
    return value is None or value == {} or value == []


def owned_paths(live: dict, field_manager: str) -> set[tuple[str, ...]]:
    """The FieldsV1 paths `field_manager` set by server-side apply, from managedFields: tuples of
    `f:<field>`, `k:{<key fields>}` (an item of an associative list) and `v:<value>` (an item of a
    set) elements, each ending where that manager's ownership ends."""
    paths: set[tuple[str, ...]] = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            paths.update(_field_paths(entry.get("fieldsV1") or {}, ()))
    return paths


def _field_paths(fields: dict, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for key, child in fields.items():
        if key == ".":  # the list item (or map) itself is owned
            if prefix:
                yield prefix
            continue
        path = prefix + (key,)
        if isinstance(child, dict) and child:
            yield from _field_paths(child, path)
        else:
            yield path


def has_path(document: Any, path: tuple[str, ...]) -> bool:
    """Whether `document` sets the FieldsV1 `path`; a list item is found by its key fields (`k:`)
    or its value (`v:`). An element of another kind (`i:`, never written by apply) is not found."""
    node = document
    for element in path:
        kind, _, text = element.partition(":")
        if kind == "f" and isinstance(node, dict) and text in node:
            node = node[text]
            continue
        if kind in ("k", "v") and isinstance(node, list):
            wanted = json.loads(text)
            found = [item for item in node if (item == wanted if kind == "v" else _keyed(item, wanted))]
            if found:
                node = found[0]
                continue
        return False
    return True


def _keyed(item: Any, key: dict) -> bool:
    return isinstance(item, dict) and all(item.get(field, _KEY_DEFAULTS.get(field)) == value
                                          for field, value in key.items())


def needs_apply(document: dict, live: dict, field_manager: str) -> bool:
    """Whether applying `document` over `live` would change anything."""
    desired = comparable(document)
    if not holds(desired, live, associative_lists(live)):
        return True
    return any(not has_path(document, path) and not has_path(desired, path)
               for path in owned_paths(live, field_manager))
