"""Schema lookup and cached validators.

- Kubernetes core kinds: the strict JSON schemas that the `kubernetes-validate` package ships
  (`kubernetes-json-schema/v<version>-local-strict/<kind>-<group>-<version>.json`, with `$ref`s into
  `_definitions.json`), used directly through a cached `jsonschema` validator.
- CRD kinds: `<crd_dir>/<group>/<kind lower>_<version>.json` (datreeio/CRDs-catalog layout). These
  schemas leave the top level and `metadata` open; the validator closes the top level and checks
  `metadata` against the core ObjectMeta schema, so a typo there is caught too.
- Any other JSON schema file (Talos, talhelper), optionally entered at one of its `$defs`.

Every validator uses Go regular-expression semantics for `pattern`/`patternProperties` (see
`goregex`), a small format checker (int32, int64, byte), and reports each unexpected property as its
own error located at that property. A "relaxed" validator ignores `required`, for partial documents
(patches). Validators are built once per `SchemaStore`; parsed schema files are shared between
stores, since they are never modified.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from .goregex import UntranslatablePattern, compile_go
from .issues import ValidationSetupError
from .neutral import is_neutral

OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_MAX_MESSAGE = 300
# Errors about a value itself (not about the object around it): these are the ones a neutral marker
# (an unknowable value) must not trigger.
_VALUE_KEYWORDS = {
    "type", "enum", "const", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "oneOf", "anyOf", "not",
}
_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


@dataclass(frozen=True)
class SchemaHandle:
    """A validator (built on first use: an object whose verdict is cached never needs it) and a
    short label naming its schema (for messages)."""

    label: str
    build: Callable[[], Any] = field(repr=False, compare=False)
    is_crd: bool = False
    source: str = ""  # what the verdict depends on: the schema file's path and a digest of its bytes

    @cached_property
    def validator(self) -> Any:
        return self.build()


class SchemaStore:
    """Finds schemas for (apiVersion, kind) and builds each validator once (thread-safe)."""

    def __init__(self, crd_dir: Path, kubernetes_version: str,
                 fetch_crd_schema: Callable[[str], Path | None] | None = None):
        self.crd_dir = Path(crd_dir)
        # Asked for `<group>/<kind>_<version>.json` when that file is not in crd_dir (a download
        # cache); returns its path, or None when no such schema exists anywhere.
        self.fetch_crd_schema = fetch_crd_schema
        if not self.crd_dir.is_dir() and fetch_crd_schema is None:
            raise ValidationSetupError(f"CRD schema folder not found: {self.crd_dir}")
        self.kubernetes_version = kubernetes_version
        self.core_dir = core_schema_dir(kubernetes_version)
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.RLock()

    # -- Kubernetes objects ------------------------------------------------------------------

    def for_object(self, api_version: str, kind: str, *, relaxed: bool = False) -> SchemaHandle | None:
        """The schema for a Kubernetes object kind, core first, then CRD. None when neither has it."""
        return self._cached(("object", api_version, kind, relaxed), lambda: self._object_handle(api_version, kind, relaxed))

    def object_meta(self) -> SchemaHandle:
        """Core ObjectMeta (used for CRD objects, whose schemas leave metadata open)."""
        return self._cached(("object-meta",), lambda: SchemaHandle(
            f"kubernetes {self.core_dir.name} ObjectMeta",
            lambda: _validator_class(False)({"$ref": OBJECT_META_REF}, registry=_core_registry(str(self.core_dir)),
                                            format_checker=_format_checker())))

    def _object_handle(self, api_version: str, kind: str, relaxed: bool) -> SchemaHandle | None:
        group, _, version = api_version.rpartition("/")
        core_file = self.core_dir / (f"{kind.lower()}-{group.split('.')[0]}-{version}.json" if group
                                     else f"{kind.lower()}-{version}.json")
        if core_file.is_file():
            schema = load_json(str(core_file))
            declared = schema.get("x-kubernetes-group-version-kind") or []
            if {"group": group, "version": version, "kind": kind} in declared:
                return SchemaHandle(
                    f"kubernetes {self.core_dir.name} {core_file.name}",
                    lambda: _validator_class(relaxed)(schema, registry=_core_registry(str(self.core_dir)),
                                                      format_checker=_format_checker()),
                    source=_file_identity(core_file) + "\0" + _file_identity(self.core_dir))
        if group:
            crd_file = self.crd_dir / group / f"{kind.lower()}_{version}.json"
            if not crd_file.is_file() and self.fetch_crd_schema is not None:
                crd_file = self.fetch_crd_schema(f"{group}/{kind.lower()}_{version}.json") or crd_file
            if crd_file.is_file():
                return SchemaHandle(f"{group}/{crd_file.name}", lambda: _crd_validator(crd_file, relaxed), is_crd=True,
                                    source=_file_identity(crd_file) + "\0" + _file_identity(self.core_dir))
        return None

    # -- other schema files -----------------------------------------------------------------

    def from_file(self, path: Path, *, definition: str | None = None, relaxed: bool = False) -> SchemaHandle:
        """A validator for a JSON schema file, entered at `$defs/<definition>` when given."""
        path = Path(path)

        def build() -> SchemaHandle:
            if not path.is_file():
                raise ValidationSetupError(f"schema file not found: {path}")
            schema = load_json(str(path))
            label = path.name
            if definition is not None:
                if definition not in schema.get("$defs", {}):
                    raise ValidationSetupError(f"{path.name} has no $defs/{definition}")
                schema = {key: value for key, value in schema.items() if key in {"$schema", "$id", "$defs"}}
                schema["$ref"] = f"#/$defs/{definition}"
                label = f"{path.name}#/$defs/{definition}"
            return SchemaHandle(label, lambda: _validator_class(relaxed)(schema, format_checker=_format_checker()),
                                source=f"{_file_identity(path)}\0{definition}\0{relaxed}")

        return self._cached(("file", str(path), definition, relaxed), build)

    def _cached(self, key: tuple, build):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]


def _crd_validator(crd_file: Path, relaxed: bool):
    schema = dict(load_json(str(crd_file)))
    if "properties" in schema and "additionalProperties" not in schema:
        # Closing the top level must not reject the envelope some vendored schemas omit.
        envelope = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
        schema["properties"] = {**envelope, **schema["properties"]}
        schema["additionalProperties"] = False
    return _validator_class(relaxed)(schema, format_checker=_format_checker())


@lru_cache(maxsize=None)
def _file_identity(path: Path) -> str:
    """A schema file as its path and the digest of its bytes; the core folder as the digest of the
    definitions every core schema refers to (ObjectMeta among them)."""
    import hashlib

    if path.is_dir():
        return _file_identity(path / "_definitions.json")
    return f"{path}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def core_schema_dir(kubernetes_version: str) -> Path:
    """The strict schema folder of `kubernetes-validate` for this version (or the newest one not
    newer than it, as kubernetes-validate itself picks)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ValidationSetupError("the kubernetes-validate package is not installed")
    base = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    wanted = _version_tuple(kubernetes_version)
    available = []
    for folder in base.glob("v*-local-strict"):
        version = _version_tuple(folder.name[1:].split("-")[0])
        if version is not None:
            available.append((version, folder))
    if wanted is None:
        raise ValidationSetupError(f"not a Kubernetes version: {kubernetes_version!r}")
    exact = [folder for version, folder in available if version == wanted]
    if exact:
        return exact[0]
    older = sorted((version, folder) for version, folder in available if version[:2] <= wanted[:2])
    if not older:
        raise ValidationSetupError(f"kubernetes-validate ships no schemas for Kubernetes {kubernetes_version}")
    return older[-1][1]


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(part or 0) for part in match.groups()) if match else None


@lru_cache(maxsize=None)
def load_json(path: str) -> dict:
    """A parsed schema file, shared by every store (callers must not modify it)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=None)
def _core_registry(core_dir: str):
    from referencing import Registry, Resource

    definitions = load_json(str(Path(core_dir) / "_definitions.json"))
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


# -- validator classes ---------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _validator_class(relaxed: bool):
    from jsonschema import Draft202012Validator, validators

    keywords = {
        "pattern": _go_pattern,
        "patternProperties": _go_pattern_properties,
        "additionalProperties": _additional_properties,
    }
    if relaxed:
        keywords["required"] = _ignore_required
    return validators.extend(Draft202012Validator, keywords)


class UntranslatablePatternError(Exception):
    """Marker base of the ValidationError raised for a pattern with no Python equivalent."""

    # Declared for the type checker: every instance also derives from jsonschema's ValidationError
    # (see _untranslatable_error_class), which sets these.
    message: str
    absolute_path: Sequence[Any]


@lru_cache(maxsize=None)
def _untranslatable_error_class():
    from jsonschema import ValidationError

    return type("UntranslatablePatternValidationError", (ValidationError, UntranslatablePatternError), {})


def _untranslatable(message: str):
    return _untranslatable_error_class()(message)


def _go_pattern(validator, pattern, instance, schema) -> Iterator:
    from jsonschema import ValidationError

    if not validator.is_type(instance, "string"):
        return
    try:
        compiled = compile_go(pattern)
    except UntranslatablePattern as exc:
        yield _untranslatable(f"cannot check pattern: {exc}")
        return
    if not compiled.search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _go_pattern_properties(validator, pattern_properties, instance, schema) -> Iterator:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        try:
            compiled = compile_go(pattern)
        except UntranslatablePattern as exc:
            yield _untranslatable(f"cannot check property pattern: {exc}")
            continue
        for key, value in instance.items():
            if compiled.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema) -> Iterator:
    from jsonschema import ValidationError

    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = []
    for pattern in schema.get("patternProperties", {}):
        try:
            patterns.append(compile_go(pattern))
        except UntranslatablePattern:
            continue  # reported by patternProperties
    extras = [key for key in instance if key not in known and not any(p.search(key) for p in patterns)]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False:
        for key in extras:
            # One error per property, located at it: `spec.chartReff`, not `spec`.
            yield ValidationError(f"Additional properties are not allowed ({key!r} was unexpected)",
                                  path=(key,), instance=instance[key])


def _ignore_required(validator, required, instance, schema) -> Iterator:
    return iter(())


@lru_cache(maxsize=None)
def _format_checker():
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63

    @checker.checks("byte")
    def _byte(value: object) -> bool:
        # Go's base64 decoder skips CR and LF; anything else must be standard, padded base64.
        if not isinstance(value, str):
            return True
        compact = value.replace("\r", "").replace("\n", "")
        if not _BASE64.match(compact):
            return False
        try:
            base64.b64decode(compact, validate=True)
        except binascii.Error:
            return False
        return True

    return checker


# -- errors to (path, message) -----------------------------------------------------------------


@dataclass(frozen=True)
class SchemaProblem:
    path: str
    message: str


def check(handle: SchemaHandle, document: Any, *, prefix: Sequence[str | int] = ()) -> list[SchemaProblem]:
    """Every schema problem of `document`, located by dotted path, ignoring neutral markers."""
    problems: list[SchemaProblem] = []
    seen: set[tuple[str, str]] = set()
    for error in handle.validator.iter_errors(document):
        for path, message in _describe(error, handle.label):
            key = (format_path([*prefix, *path]), message)
            if key not in seen:
                seen.add(key)
                problems.append(SchemaProblem(*key))
    return sorted(problems, key=lambda p: (p.path, p.message))


def _describe(error, label: str) -> Iterable[tuple[list, str]]:
    if isinstance(error, UntranslatablePatternError):
        yield list(error.absolute_path), f"{error.message} (schema {label})"
        return
    if error.validator in _VALUE_KEYWORDS and is_neutral(error.instance):
        return
    if error.validator in {"oneOf", "anyOf"}:
        yield from _describe_union(error, label)
        return
    yield list(error.absolute_path), _shorten(error.message)


def _describe_union(error, label: str) -> Iterable[tuple[list, str]]:
    """A readable message for a failed oneOf/anyOf, instead of the whole instance's repr."""
    path = list(error.absolute_path)
    if any(sub.validator in _VALUE_KEYWORDS and is_neutral(sub.instance) for sub in error.context):
        return
    choices = _required_alternatives(error.validator_value)
    if choices is not None:
        listed = ", ".join(choices)
        if not error.context:  # oneOf satisfied by several alternatives
            yield path, f"set only one of: {listed}"
        else:
            yield path, f"set {'exactly one' if error.validator == 'oneOf' else 'at least one'} of: {listed}"
        return
    if not error.context:
        yield path, f"{_short(error.instance)} matches more than one of the allowed alternatives"
        return
    types = _alternative_types(error)
    if types is not None:
        yield path, f"{_short(error.instance)} is not of type {' or '.join(types)}"
        return
    from jsonschema.exceptions import best_match

    best = best_match(error.context)
    if list(best.absolute_path) != path:
        yield from _describe(best, label)
    else:
        yield path, f"matches none of the allowed alternatives; closest: {_shorten(best.message)}"


def _required_alternatives(alternatives: Any) -> list[str] | None:
    """For unions like `oneOf: [{required: [a]}, {required: [b]}]`, the choices ['a', 'b']."""
    if not isinstance(alternatives, list):
        return None
    choices = []
    for alternative in alternatives:
        if not isinstance(alternative, dict) or not alternative.get("required"):
            return None
        if set(alternative) - {"required", "properties", "title", "description"}:
            return None
        choices.append(" + ".join(str(name) for name in alternative["required"]))
    return choices


def _alternative_types(error) -> list[str] | None:
    """For int-or-string style unions, the accepted types; None when the union is not only types."""
    types: list[str] = []
    for sub in error.context:
        if sub.validator != "type" or list(sub.relative_path):
            return None
        allowed = sub.validator_value if isinstance(sub.validator_value, list) else [sub.validator_value]
        types.extend(t for t in allowed if t != "null" and t not in types)
    return types or None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shorten(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def format_path(parts: Iterable[str | int]) -> str:
    """`spec`, `containers`, 0, `image` -> `spec.containers[0].image`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
