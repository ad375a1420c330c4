"""Partial documents: strategic-merge patches and JSON6902 operation lists.

A strategic-merge patch is checked against its kind's schema with `required` ignored. Its merge
directives are not fields: keys starting with `$` (`$setElementOrder/...`, `$retainKeys`) are
dropped, and a mapping holding `$patch: delete` (or Talhelper's escaped `$$patch`) stands for a
deletion, so it is replaced by a neutral marker that no value check holds against.
"""

from __future__ import annotations

from typing import Any

from .neutral import PATCH_DIRECTIVE

JSON_PATCH_OPERATIONS = {"add", "remove", "replace", "move", "copy", "test"}
_OPERATION_FIELDS = {"op", "path", "value", "from"}


def without_directives(value: Any) -> Any:
    """A strategic-merge patch with its directives taken out (see the module docstring)."""
    if isinstance(value, dict):
        directive = value.get("$patch", value.get("$$patch"))
        if directive == "delete":
            return PATCH_DIRECTIVE
        return {key: without_directives(item) for key, item in value.items()
                if not (isinstance(key, str) and key.startswith("$"))}
    if isinstance(value, list):
        return [without_directives(item) for item in value]
    return value


def json_patch_problems(operations: list) -> list[tuple[list, str]]:
    """(path, message) for each malformed JSON6902 operation."""
    problems: list[tuple[list, str]] = []
    for i, operation in enumerate(operations):
        if not isinstance(operation, dict):
            problems.append(([i], f"a JSON patch operation must be a mapping, not {type(operation).__name__}"))
            continue
        op = operation.get("op")
        if op not in JSON_PATCH_OPERATIONS:
            problems.append(([i, "op"], f"{op!r} is not one of {sorted(JSON_PATCH_OPERATIONS)}"))
        path = operation.get("path")
        if not isinstance(path, str) or (path and not path.startswith("/")):
            problems.append(([i, "path"], f"{path!r} is not a JSON pointer (it must start with '/')"))
        if op in {"add", "replace", "test"} and "value" not in operation:
            problems.append(([i, "value"], f"a {op!r} operation needs a value"))
        if op in {"move", "copy"} and not isinstance(operation.get("from"), str):
            problems.append(([i, "from"], f"a {op!r} operation needs 'from'"))
        for key in operation:
            if key not in _OPERATION_FIELDS:
                problems.append(([i, str(key)], f"unknown JSON patch field {key!r}"))
    return problems
