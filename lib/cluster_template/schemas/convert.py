"""CustomResourceDefinition -> strict JSON schemas, one per served version (openapi2jsonschema style).

The result has the layout and the strictness of the datreeio/CRDs-catalog files the validator was
built on (`<group>/<kind lower>_<version>.json`, the top level left open for the validator to close):

- an object that lists `properties` and says nothing about extra keys gets
  `additionalProperties: false`, so a misspelt field is an error, as `kubectl --validate=strict` does;
- except where the CRD says `x-kubernetes-preserve-unknown-fields: true`: the API server keeps unknown
  fields there, so the schema must too (the subtree stays as open as the CRD declares it);
- `x-kubernetes-int-or-string: true` (and OpenAPI's `format: int-or-string`) accepts an integer or
  a string;
- `nullable: true` adds `null` to the allowed types (and to an `enum`).

CEL rules (`x-kubernetes-validations`) cannot be checked offline; they stay in the schema as
annotations, which JSON Schema ignores.
"""

from __future__ import annotations

import copy
from typing import Any


class NotACrd(ValueError):
    """A document handed to the converter is not a usable CustomResourceDefinition."""


_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]


def crd_schemas(crd: dict) -> dict[str, dict]:
    """`{"<group>/<kind lower>_<version>.json": schema}` for every served version of `crd`."""
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise NotACrd("not a CustomResourceDefinition")
    spec = crd.get("spec") or {}
    group = spec.get("group")
    kind = (spec.get("names") or {}).get("kind")
    if not group or not kind:
        raise NotACrd(f"{(crd.get('metadata') or {}).get('name', '?')}: spec.group or spec.names.kind missing")
    schemas = {}
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        openapi = ((version.get("schema") or {}).get("openAPIV3Schema"))
        if openapi is None:
            # apiextensions v1 requires a schema per version; an old manifest may share one.
            openapi = ((spec.get("validation") or {}).get("openAPIV3Schema"))
        if openapi is None:
            raise NotACrd(f"{group}/{kind} {version.get('name')}: no openAPIV3Schema")
        schemas[f"{group}/{kind.lower()}_{version['name']}.json"] = to_json_schema(openapi)
    return schemas


def to_json_schema(openapi: dict) -> dict:
    """A strict JSON schema from a CRD version's `openAPIV3Schema` (the input is not modified)."""
    return _convert(copy.deepcopy(openapi), top=True)


def _convert(node: Any, *, top: bool = False) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _convert_child(key, value) for key, value in node.items()}
    if converted.get("x-kubernetes-int-or-string") is True or converted.get("format") == "int-or-string":
        converted.pop("type", None)
        if converted.get("format") == "int-or-string":
            converted.pop("format")
        if "anyOf" not in converted and "oneOf" not in converted:
            converted["anyOf"] = copy.deepcopy(_INT_OR_STRING)
    if converted.pop("nullable", False) is True:
        _allow_null(converted)
    preserve = converted.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in converted and "additionalProperties" not in converted and not top and not preserve:
        converted["additionalProperties"] = False
    return converted


def _convert_child(key: str, value: Any) -> Any:
    if key in {"properties", "patternProperties", "definitions", "$defs"} and isinstance(value, dict):
        # A map of names to schemas: the names are not schema keywords.
        return {name: _convert(schema) for name, schema in value.items()}
    if key in {"enum", "required", "x-kubernetes-list-map-keys", "x-kubernetes-validations", "example", "default"}:
        return copy.deepcopy(value)
    return _convert(value)


def _allow_null(schema: dict) -> None:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    elif kind is None:
        for union in ("anyOf", "oneOf"):
            if union in schema:
                schema[union] = [*schema[union], {"type": "null"}]
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
