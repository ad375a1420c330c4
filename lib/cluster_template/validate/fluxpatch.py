"""`spec.patches` of a Flux Kustomization, applied to the objects its build produces.

kustomize-controller appends these patches to the build, so the objects that reach the cluster are
the patched ones: a root Kustomization commonly patches every child Kustomization with decryption and
`postBuild.substituteFrom`. Strategic-merge patches are applied as kustomize does for custom
resources (maps merge, lists are replaced, `null` and `$patch: delete` remove); JSON 6902 patches
support add, replace and remove.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ..nested import mapping_or_empty
from .objects import api_group
from .yamldocs import YamlSyntaxError, load_documents


def _selector_matches(selector: Any, values: Any) -> bool:
    """`k=v,k2=v2` / `k` / `!k` label or annotation selectors (the equality subset)."""
    if not selector:
        return True
    values = values if isinstance(values, Mapping) else {}
    for term in str(selector).split(","):
        term = term.strip()
        if term.startswith("!"):
            if term[1:] in values:
                return False
        elif "!=" in term:
            key, _, value = term.partition("!=")
            if values.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if values.get(key.strip()) != value.strip():
                return False
        elif term not in values:
            return False
    return True


def _target_matches(target: Mapping, data: Mapping) -> bool:
    api_version = str(data.get("apiVersion", ""))
    metadata = mapping_or_empty(data.get("metadata"))
    checks = (
        ("group", api_group(api_version)),
        ("version", api_version.rpartition("/")[2]),
        ("kind", data.get("kind")),
        ("name", metadata.get("name")),
        ("namespace", metadata.get("namespace")),
    )
    for key, actual in checks:
        wanted = target.get(key)
        if wanted and not re.fullmatch(str(wanted), str(actual or "")):
            return False
    return (_selector_matches(target.get("labelSelector"), metadata.get("labels"))
            and _selector_matches(target.get("annotationSelector"), metadata.get("annotations")))


def _merge(base: Any, patch: Any) -> Any:
    if not isinstance(base, Mapping) or not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "delete":
        return None
    merged = dict(base)
    for key, value in patch.items():
        if key == "$patch":
            continue
        if value is None or (isinstance(value, Mapping) and value.get("$patch") == "delete"):
            merged.pop(key, None)
        else:
            merged[key] = _merge(base.get(key), value)
    return merged


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")] if path else []


def _json6902(data: Any, operations: list) -> tuple[Any, list[str]]:
    data = copy.deepcopy(data)
    problems = []
    for operation in operations:
        if not isinstance(operation, Mapping) or operation.get("op") not in {"add", "replace", "remove"}:
            problems.append(f"unsupported JSON patch operation {operation!r}")
            continue
        parts = _pointer(str(operation.get("path", "")))
        parent = data
        try:
            for part in parts[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            last = parts[-1]
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if operation["op"] == "remove":
                    parent.pop(index)
                elif operation["op"] == "add":
                    parent.insert(index, operation.get("value"))
                else:
                    parent[index] = operation.get("value")
            elif operation["op"] == "remove":
                del parent[last]
            else:
                parent[last] = operation.get("value")
        except (KeyError, IndexError, ValueError, TypeError):
            problems.append(f"JSON patch path {operation.get('path')!r} does not exist")
    return data, problems


def apply_patches(data: Any, patches: Any) -> tuple[Any, list[str]]:
    """`data` with every matching patch of `patches` (a Flux `spec.patches` list) applied."""
    problems: list[str] = []
    if not isinstance(data, Mapping) or not isinstance(patches, list):
        return data, problems
    for number, entry in enumerate(patches):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("patch"), str):
            continue
        try:
            documents = [doc for doc in load_documents(entry["patch"]) if doc is not None]
        except YamlSyntaxError as exc:
            problems.append(f"spec.patches[{number}].patch is not valid YAML: {exc}")
            continue
        if not documents:
            continue
        patch = documents[0]
        target = entry.get("target")
        if not isinstance(target, Mapping):
            if not isinstance(patch, Mapping):
                continue
            # Without a target, a strategic-merge patch selects by its own kind and name.
            metadata = mapping_or_empty(patch.get("metadata"))
            target = {"kind": patch.get("kind"), "name": metadata.get("name")}
        if not _target_matches(target, data):
            continue
        if isinstance(patch, list):
            data, found = _json6902(data, patch)
            problems += [f"spec.patches[{number}]: {message}" for message in found]
        elif isinstance(patch, Mapping):
            body = {key: value for key, value in patch.items() if key not in {"apiVersion", "kind"}}
            body_metadata = body.get("metadata")
            if isinstance(body_metadata, Mapping):
                body["metadata"] = {k: v for k, v in body_metadata.items() if k not in {"name", "namespace"}} or None
                if body["metadata"] is None:
                    body.pop("metadata")
            data = _merge(data, body)
    return data, problems
