"""docs/CONFIGURATION.md, generated from the model so the reference cannot drift from the code."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from .model import ClusterConfig
from .nodes import Node
from .types import is_secret_field, reading_task

HEADER = """\
# Configuration reference

Generated from the model in `lib/cluster_template/config/` by `inv template.schema`; do not edit by hand.
`cluster.yaml` is one flat mapping of the keys below; `nodes.yaml` holds a `nodes:` list. Keys marked
**secret** are credentials: they are only ever written encrypted (`*.sops.yaml`) and are redacted from every
output, log and `--dry` plan. A key "read by" a task changes no rendered file: only that task uses it. A
key with no default is required. Cross-field rules (overlapping networks, duplicate addresses, option groups
that must be set together, missing prerequisites) are listed after the tables; derived variables are
described in `docs/TEMPLATES.md` and shown by `inv template.vars`.
"""


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        parts = [_type(option) for option in schema["anyOf"] if option.get("type") != "null"]
        return " or ".join(parts) + (" (optional)" if len(parts) < len(schema["anyOf"]) else "")
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "object" if "$ref" in schema or "properties" in schema else "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    details = [schema[k] for k in ("format",) if k in schema]
    details += [f"{label} {schema[k]}" for k, label in (("minimum", "≥"), ("maximum", "≤")) if k in schema]
    if "pattern" in schema:
        details.append(f"pattern `{schema['pattern']}`")
    return kind + (f" ({', '.join(str(d) for d in details)})" if details else "")


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "—"
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return f"`{json.dumps(value)}`"


def _rows(model: type[BaseModel], names: list[str]) -> list[str]:
    properties = model.model_json_schema()["properties"]
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name in names:
        info = model.model_fields[name]
        description = (info.description or "").replace("|", "\\|")
        if is_secret_field(info):
            description = f"**secret.** {description}"
        if reading_task(info):
            description = f"{description} Changes no rendered file; read by: {reading_task(info)}."
        rows.append(f"| `{name}` | {_type(properties[name])} | {_default(info)} | {description} |")
    return rows


def _groups() -> list[tuple[str, type, list[str]]]:
    """(title, group class, field names defined by that group), in documentation order."""
    groups = []
    for group in ClusterConfig.__mro__[1:]:
        own = [name for name in getattr(group, "__annotations__", {}) if name in ClusterConfig.model_fields]
        if own:
            import sys

            text = group.__doc__ or sys.modules[group.__module__].__doc__ or group.__name__
            title = " ".join(text.split()).split(". ")[0].rstrip(".:")
            groups.append((title, group, own))
    return groups


def configuration_reference() -> str:
    lines = [HEADER, "## cluster.yaml", ""]
    for title, _, names in _groups():
        lines += [f"### {title}", "", *_rows(ClusterConfig, names), ""]
    lines += ["## nodes.yaml", "", "Each entry of `nodes:`:", "", *_rows(Node, list(Node.model_fields)), ""]
    lines += ["## Rules across keys", ""]
    from .base import RULES

    for check in RULES:
        lines.append(f"- {(check.__doc__ or check.__name__.replace('_', ' ')).strip().splitlines()[0]}")
    return "\n".join(lines).rstrip() + "\n"




SAMPLE_MARKER = "# ===== Optional components"


def _sample_value(info: Any) -> str:
    if info.is_required():
        return '""'
    value = info.get_default(call_default_factory=True)
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if value is None:
        return '""'
    return json.dumps(value)


def optional_sample_block() -> str:
    """The commented-out optional keys of cluster.sample.yaml, one block per component group, with
    their defaults; the part of the sample above SAMPLE_MARKER is written by hand."""
    lines = [SAMPLE_MARKER + " (generated from the model by `inv template.schema`) =====",
             "# Everything below is off by default. Uncomment and set the keys of a component to enable it;",
             "# docs/CONFIGURATION.md describes each key and docs/COMPONENTS.md what each component deploys."]
    for title, group, names in _groups():
        if group.__name__ == "CoreSettings":
            continue
        lines += ["", f"# --- {title} " + "-" * max(3, 95 - len(title))]
        for name in names:
            info = ClusterConfig.model_fields[name]
            description = (info.description or "").strip()
            if is_secret_field(info):
                description = f"(secret) {description}"
            lines += [f"# {description}", f"# {name}: {_sample_value(info)}"]
    return "\n".join(lines) + "\n"


def sample_with_generated_block(sample: str) -> str:
    """`sample` with everything from SAMPLE_MARKER on replaced by the current generated block."""
    head = sample.split(SAMPLE_MARKER, 1)[0].rstrip("\n")
    return head + "\n\n" + optional_sample_block()
