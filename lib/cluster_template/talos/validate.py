"""Validate a multi-document Talos machine config offline.

Each document is checked against the `$defs` entry of the Talos JSON schema its `kind` selects
(`v1alpha1.Config` when it has no kind). The schema path is an argument, so the pinned copy can
live anywhere; the parsed schema and its validators are built once per path and cached.

On top of the schema, the checks Talos itself makes when loading a config that the schema cannot
express (from `v1alpha1_validation.go` and the document types): duplicate documents, exactly one
v1alpha1 document, an install disk or disk selector, CA keys by machine type, etcd only on
control planes, and the `HostnameConfig` auto/hostname rules.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TalosYamlError
from .yamlio import load_documents

V1ALPHA1_DEF = "v1alpha1.Config"
V1ALPHA1_KIND = "v1alpha1"


@dataclass(frozen=True)
class MachineConfigIssue:
    """One problem: which document (0-based index, kind, name) and where in it (a JSON path)."""

    document_index: int | None
    kind: str
    name: str | None
    path: str
    message: str

    def __str__(self) -> str:
        if self.document_index is None:
            return self.message
        label = f"{self.kind} {self.name!r}" if self.name else self.kind
        return f"document {self.document_index} ({label}) at {self.path}: {self.message}"


def validate_machine_config(text: str, schema_path: str | Path) -> list[MachineConfigIssue]:
    """Every problem of a machine config text; an empty list means it is valid."""
    try:
        documents = load_documents(text, source="machine config")
    except TalosYamlError as err:
        return [MachineConfigIssue(None, "", None, "$", f"invalid YAML: {err.detail}")]
    return validate_machine_documents(documents, schema_path)


def validate_machine_documents(documents: Iterable[Any], schema_path: str | Path) -> list[MachineConfigIssue]:
    """Like `validate_machine_config`, for documents that are already parsed."""
    schema = _schema(str(Path(schema_path).resolve()))
    issues: list[MachineConfigIssue] = []
    seen: dict[tuple[str, str | None], int] = {}
    v1alpha1_documents: list[tuple[int, dict[str, Any]]] = []
    typed_documents: list[tuple[int, dict[str, Any]]] = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            issues.append(MachineConfigIssue(index, "", None, "$", "a document must be a mapping"))
            continue
        kind = document.get("kind")
        name = document.get("name") if isinstance(document.get("name"), str) else None
        if kind is None:
            if "apiVersion" in document:
                issues.append(MachineConfigIssue(index, "", name, "$", "`apiVersion` without `kind`"))
                continue
            kind = V1ALPHA1_KIND
            v1alpha1_documents.append((index, document))
        elif not isinstance(kind, str):
            issues.append(MachineConfigIssue(index, str(kind), name, "$.kind", "must be a string"))
            continue
        else:
            typed_documents.append((index, document))
        identity = (kind, name)
        if identity in seen:
            issues.append(
                MachineConfigIssue(
                    index, kind, name, "$", f"duplicate document: same kind and name as document {seen[identity]}"
                )
            )
        else:
            seen[identity] = index
        issues.extend(schema.errors(index, kind, name, document))

    if len(v1alpha1_documents) != 1:
        issues.append(
            MachineConfigIssue(
                None, V1ALPHA1_KIND, None, "$", f"expected one v1alpha1 document, found {len(v1alpha1_documents)}"
            )
        )
    for index, document in v1alpha1_documents:
        issues.extend(_v1alpha1_rules(index, document))
    for index, document in typed_documents:
        if document.get("kind") == "HostnameConfig":
            issues.extend(_hostname_rules(index, document))
    return issues


# ----------------------------------------------------------------------------------- schema


class _Schema:
    """The Talos config schema with one validator per document kind, built on first use."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        self.definitions: dict[str, Any] = schema.get("$defs", {})
        self.kinds: dict[str, str] = {}
        for name, definition in self.definitions.items():
            kinds = ((definition.get("properties") or {}).get("kind") or {}).get("enum") or []
            if len(kinds) == 1:
                self.kinds[kinds[0]] = name
        self.kinds[V1ALPHA1_KIND] = V1ALPHA1_DEF
        self._validators: dict[str, Any] = {}

    def validator(self, definition: str) -> Any:
        found = self._validators.get(definition)
        if found is None:
            from jsonschema import Draft202012Validator

            # Shares the parsed `$defs`; only the entry point differs per kind.
            root = {"$schema": self.schema.get("$schema"), "$defs": self.definitions, "$ref": f"#/$defs/{definition}"}
            found = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
            self._validators[definition] = found
        return found

    def errors(self, index: int, kind: str, name: str | None, document: dict[str, Any]) -> list[MachineConfigIssue]:
        definition = self.kinds.get(kind)
        if definition is None:
            hint = difflib.get_close_matches(kind, self.kinds, n=1)
            suffix = f"; did you mean {hint[0]!r}?" if hint else ""
            return [MachineConfigIssue(index, kind, name, "$.kind", f"unknown document kind {kind!r}{suffix}")]
        issues = []
        for error in self.validator(definition).iter_errors(document):
            leaf = _most_specific(error)
            issues.append(MachineConfigIssue(index, kind, name, _json_path(leaf.absolute_path), leaf.message))
        return sorted(issues, key=lambda issue: (issue.path, issue.message))


@functools.lru_cache(maxsize=4)
def _schema(resolved_path: str) -> _Schema:
    with open(resolved_path, encoding="utf-8") as handle:
        return _Schema(json.load(handle))


def _most_specific(error: Any) -> Any:
    """For a `oneOf`/`anyOf` failure, the sub-error that explains it best."""
    if error.context:
        from jsonschema.exceptions import best_match

        return best_match(error.context)
    return error


def _json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "").replace("-", "").isalnum():
            path += f".{part}"
        else:
            path += f"[{json.dumps(str(part))}]"
    return path


# ----------------------------------------------------------------------------------- Talos rules


def _get(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _v1alpha1_rules(index: int, document: dict[str, Any]) -> list[MachineConfigIssue]:
    issues: list[MachineConfigIssue] = []

    def issue(path: str, message: str) -> None:
        issues.append(MachineConfigIssue(index, V1ALPHA1_KIND, None, path, message))

    machine_type = _get(document, "machine", "type")
    install = _get(document, "machine", "install") or {}
    if isinstance(install, dict) and not install.get("disk") and not install.get("diskSelector"):
        issue("$.machine.install", "either install disk or diskSelector should be defined")
    if not _get(document, "cluster", "controlPlane", "endpoint"):
        issue("$.cluster.controlPlane.endpoint", "cluster controlplane endpoint is required")
    if machine_type in ("controlplane", "init"):
        if not _get(document, "machine", "ca", "key"):
            issue("$.machine.ca.key", "issuing CA key is required for controlplane nodes")
    elif machine_type == "worker":
        if _get(document, "machine", "ca", "key"):
            issue("$.machine.ca.key", "issuing Talos API CA key is not allowed on non-controlplane nodes")
        if _get(document, "cluster", "ca", "key"):
            issue("$.cluster.ca.key", "cluster CA key is not allowed on non-controlplane nodes")
        if _get(document, "cluster", "etcd"):
            issue("$.cluster.etcd", "etcd config is only allowed on control plane machines")
    return issues


def _hostname_rules(index: int, document: dict[str, Any]) -> list[MachineConfigIssue]:
    auto, hostname = document.get("auto"), document.get("hostname")
    if auto is None and not hostname:
        message = "either 'auto' or 'hostname' must be set"
    elif auto not in (None, "off") and hostname:
        message = "'auto' and 'hostname' cannot be set at the same time (use auto: off with a hostname)"
    else:
        return []
    return [MachineConfigIssue(index, "HostnameConfig", None, "$", message)]
