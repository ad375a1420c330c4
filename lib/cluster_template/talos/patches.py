"""Config patches with Talos's strategic-merge rules, on plain YAML data.

A patch text may hold several documents. Each document is one of:

* a **v1alpha1 fragment** (no `apiVersion`/`kind`; keys among `version`, `debug`, `machine`,
  `cluster`): merged into the v1alpha1 document. Maps merge key by key; a scalar in the patch
  replaces the one in the config; `null` changes nothing; lists are appended to, except
  - `cluster.network.podSubnets`, `cluster.network.serviceSubnets` and `cluster.apiServer.auditPolicy`,
    which are replaced,
  - `machine.network.interfaces` (matched on `interface`, else on an equal `deviceSelector`),
    `machine.network.interfaces[].vlans` (matched on `vlanId`) and
    `cluster.apiServer.admissionControl` (matched on `name`), whose matching items are merged;
* a **typed document** (`apiVersion` + `kind`, and `name` for named kinds): it replaces the
  document with the same apiVersion, kind and name, or is appended when there is none. (Talos
  itself merges such documents field by field; this generator replaces them, so a node-level
  `HostnameConfig` or `LinkConfig` states the whole document and nothing of an earlier layer leaks in.)

`$patch: delete`, as in Talos:

* `key: {$patch: delete}` removes `key`; the path to it must not cross a list;
* a list item `{<field>: <value>, $patch: delete}` removes the first item of that list whose
  `<field>` equals `<value>`;
* a typed document holding only `apiVersion`, `kind`, (`name`) and `$patch: delete` removes that
  whole document (the v1alpha1 document cannot be removed). A typed document with nested delete
  directives edits the existing document and may hold nothing else.

Deletes of a fragment apply before its merge. Deleting something that is not there is an error, as
is a patch that names the same document twice.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import PatchError, TalosYamlError
from .yamlio import load_documents

V1ALPHA1 = "v1alpha1"
V1ALPHA1_FRAGMENT_KEYS = ("version", "debug", "machine", "cluster")
DocumentId = tuple[str, str, str]  # (apiVersion, kind, name); ("", "v1alpha1", "") for the legacy document

_REPLACED_PATHS = {
    ("cluster", "network", "podSubnets"),
    ("cluster", "network", "serviceSubnets"),
    ("cluster", "apiServer", "auditPolicy"),
}
_KEYED_LISTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("machine", "network", "interfaces"): ("interface", "deviceSelector"),
    ("machine", "network", "interfaces", "*", "vlans"): ("vlanId",),
    ("cluster", "apiServer", "admissionControl"): ("name",),
}
_DELETE = "$patch"


@dataclass(frozen=True)
class Patch:
    """A parsed patch: where it came from (for errors) and its documents, in order."""

    origin: str
    documents: tuple[dict[str, Any], ...]


def document_id(document: Mapping[str, Any]) -> DocumentId:
    """The identity Talos matches documents on."""
    kind = document.get("kind")
    if not kind:
        return ("", V1ALPHA1, "")
    return (str(document.get("apiVersion", "")), str(kind), str(document.get("name") or ""))


def describe(doc_id: DocumentId) -> str:
    _, kind, name = doc_id
    return f"{kind} {name!r}" if name else kind


def load_patch(entry: str, base_dir: Path, origin: str) -> Patch:
    """Read one talconfig patch entry: `@relative/path.yaml` (from `base_dir`) or inline YAML."""
    if entry.startswith("@"):
        relative = entry[1:].strip()
        path = (base_dir / relative) if not Path(relative).is_absolute() else Path(relative)
        label = f"{origin} ({entry})"
        if not path.is_file():
            raise PatchError(label, f"file not found: {path}")
        text = path.read_text(encoding="utf-8")
        return parse_patch(text, label)
    return parse_patch(entry, origin)


def parse_patch(text: str, origin: str) -> Patch:
    """Parse and check the documents of a patch text."""
    try:
        documents = load_documents(text, source=origin)
    except TalosYamlError as err:
        raise PatchError(origin, f"invalid YAML: {err.detail}") from err
    seen: set[DocumentId] = set()
    checked: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        where = f"document {index}"
        if isinstance(document, list):
            raise PatchError(
                origin, f"{where}: JSON patches (RFC 6902) are not supported; write a strategic merge patch"
            )
        if not isinstance(document, dict):
            raise PatchError(origin, f"{where}: expected a mapping")
        has_kind, has_api_version = "kind" in document, "apiVersion" in document
        if has_kind != has_api_version:
            raise PatchError(origin, f"{where}: `kind` and `apiVersion` must be set together")
        if not has_kind:
            unknown = [key for key in document if key not in (*V1ALPHA1_FRAGMENT_KEYS, _DELETE)]
            if unknown:
                raise PatchError(
                    origin,
                    f"{where}: unknown top-level key {unknown[0]!r} in a v1alpha1 patch "
                    f"(expected {', '.join(V1ALPHA1_FRAGMENT_KEYS)}, or apiVersion + kind for a typed document)",
                )
        doc_id = document_id(document)
        if doc_id in seen:
            raise PatchError(origin, f"{where}: {describe(doc_id)} appears twice in one patch")
        seen.add(doc_id)
        checked.append(document)
    return Patch(origin=origin, documents=tuple(checked))


def apply_patch(documents: list[dict[str, Any]], patch: Patch) -> list[dict[str, Any]]:
    """A new document list: `documents` with `patch` applied (the input is left untouched)."""
    result = copy.deepcopy(documents)
    for index, original in enumerate(patch.documents):
        document = copy.deepcopy(original)
        doc_id = document_id(document)
        where = f"document {index} ({describe(doc_id)})"
        target = next((i for i, existing in enumerate(result) if document_id(existing) == doc_id), None)
        try:
            if doc_id[1] == V1ALPHA1:
                _patch_v1alpha1(result, target, document)
            else:
                _patch_typed(result, target, document)
        except _PatchProblem as problem:
            raise PatchError(patch.origin, f"{where}: {problem}") from None
    return result


class _PatchProblem(Exception):
    """Raised inside the merge; `apply_patch` turns it into a `PatchError` with the origin."""


# ----------------------------------------------------------------------------------- documents


def _patch_v1alpha1(result: list[dict[str, Any]], target: int | None, document: dict[str, Any]) -> None:
    if target is None:
        raise _PatchProblem("the config has no v1alpha1 document to patch")
    if document.get(_DELETE) == "delete":
        raise _PatchProblem("the v1alpha1 document cannot be deleted")
    deletes = _extract_deletes(document, ())
    for delete in deletes:
        delete.apply(result[target])
    _merge_map(result[target], document, ())


def _patch_typed(result: list[dict[str, Any]], target: int | None, document: dict[str, Any]) -> None:
    identity_keys = {"apiVersion", "kind", "name"}
    if document.get(_DELETE) == "delete":
        extra = sorted(set(document) - identity_keys - {_DELETE})
        if extra:
            raise _PatchProblem(f"a document delete may hold only apiVersion, kind and name, not {', '.join(extra)}")
        if target is None:
            raise _PatchProblem("there is no such document to delete")
        del result[target]
        return
    deletes = _extract_deletes(document, ())
    if deletes:
        extra = sorted(set(document) - identity_keys)
        if extra:
            raise _PatchProblem(
                f"a typed document with `$patch: delete` directives may not set other fields ({', '.join(extra)}); "
                "put replacements in a separate patch"
            )
        if target is None:
            raise _PatchProblem("there is no such document to delete from")
        for delete in deletes:
            delete.apply(result[target])
        return
    if target is None:
        result.append(document)
    else:
        result[target] = document


# ----------------------------------------------------------------------------------- deletes


@dataclass(frozen=True)
class _Delete:
    """Remove `path` (a map key), or, with `field`, the first item of the list at `path` matching it."""

    path: tuple[str, ...]
    field: str | None = None
    value: Any = None

    def apply(self, document: dict[str, Any]) -> None:
        node: Any = document
        for depth, key in enumerate(self.path[:-1]):
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                raise _PatchProblem(f"nothing to delete at {_dotted(self.path[: depth + 1])}")
        last = self.path[-1]
        if not isinstance(node, dict) or last not in node:
            raise _PatchProblem(f"nothing to delete at {_dotted(self.path)}")
        if self.field is None:
            del node[last]
            return
        items = node[last]
        if not isinstance(items, list):
            raise _PatchProblem(f"{_dotted(self.path)} is not a list")
        for position, item in enumerate(items):
            if isinstance(item, dict) and self.field in item and _same_scalar(item[self.field], self.value):
                del items[position]
                return
        raise _PatchProblem(f"no item of {_dotted(self.path)} has {self.field} = {self.value!r}")


def _extract_deletes(node: dict[str, Any], path: tuple[str, ...]) -> list[_Delete]:
    """Remove every `$patch: delete` directive from `node` (in place) and return them as deletes.

    A map left empty by removing its directives is removed too, as Talos does.
    """
    deletes: list[_Delete] = []
    for key in list(node):
        value = node[key]
        child = (*path, str(key))
        if key == _DELETE:
            raise _PatchProblem(f"unsupported directive `$patch: {value}` at {_dotted(path) or 'the document root'}")
        if isinstance(value, dict):
            if value.get(_DELETE) == "delete":
                if len(value) != 1:
                    raise _PatchProblem(f"`$patch: delete` on the map {_dotted(child)} must stand alone")
                deletes.append(_Delete(child))
                del node[key]
                continue
            found = _extract_deletes(value, child)
            if found and not value:
                del node[key]
            deletes.extend(found)
        elif isinstance(value, list):
            found = _extract_list_deletes(value, child)
            if found and not value:
                del node[key]
            deletes.extend(found)
    return deletes


def _extract_list_deletes(items: list[Any], path: tuple[str, ...]) -> list[_Delete]:
    deletes: list[_Delete] = []
    kept: list[Any] = []
    for item in items:
        if isinstance(item, dict) and item.get(_DELETE) == "delete":
            selectors = [(key, value) for key, value in item.items() if key != _DELETE]
            if not selectors or isinstance(selectors[0][1], (dict, list)):
                raise _PatchProblem(f"a list item delete in {_dotted(path)} needs a `field: value` to match on first")
            deletes.append(_Delete(path, field=str(selectors[0][0]), value=selectors[0][1]))
            continue
        if _contains_delete(item):
            raise _PatchProblem(f"cannot delete inside an item of the list {_dotted(path)}; delete the whole item")
        kept.append(item)
    items[:] = kept
    return deletes


def _contains_delete(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get(_DELETE) == "delete" or any(_contains_delete(value) for value in node.values())
    if isinstance(node, list):
        return any(_contains_delete(item) for item in node)
    return False


def _same_scalar(left: Any, right: Any) -> bool:
    def text(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return text(left) == text(right)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


# ----------------------------------------------------------------------------------- merge


def _merge_map(left: dict[str, Any], right: Mapping[str, Any], path: tuple[str, ...]) -> None:
    for key, value in right.items():
        child = (*path, str(key))
        if value is None:
            continue  # a nil in Talos's typed config never overrides
        current = left.get(key)
        if current is None or child in _REPLACED_PATHS:
            left[key] = copy.deepcopy(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            match_keys = _KEYED_LISTS.get(child)
            if match_keys:
                _merge_keyed_list(current, value, child, match_keys)
            else:
                current.extend(copy.deepcopy(value))
        elif isinstance(current, (dict, list)) or isinstance(value, (dict, list)):
            raise _PatchProblem(
                f"cannot merge a {_shape(value)} into the {_shape(current)} at {_dotted(child)}"
            )
        else:
            left[key] = value


def _merge_keyed_list(left: list[Any], right: list[Any], path: tuple[str, ...], match_keys: tuple[str, ...]) -> None:
    for item in right:
        existing = None
        if isinstance(item, dict):
            for match_key in match_keys:
                if item.get(match_key) not in (None, "", {}):
                    existing = next(
                        (old for old in left if isinstance(old, dict) and old.get(match_key) == item[match_key]), None
                    )
                    break
        if existing is None:
            left.append(copy.deepcopy(item))
        else:
            _merge_map(existing, item, (*path, "*"))


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"
