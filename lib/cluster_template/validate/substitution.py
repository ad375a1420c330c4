"""Flux post-build variable substitution, as kustomize-controller does it after `kustomize build`.

Flux renders each built object to YAML text, replaces `${VAR}` expressions, and parses the text
again, so a value can change type (`replicas: ${N}` becomes an integer). This module does the same on
the text of each built document. Supported expressions, as in Flux's envsubst: `${VAR}`, defaults
(`${VAR:=d}`, `${VAR:-d}`, `${VAR=d}`, `${VAR-d}`), `${#VAR}`, case (`${VAR^}`, `${VAR^^}`, `${VAR,}`,
`${VAR,,}`), replacement (`${VAR/a/b}`, `${VAR//a/b}`), trimming (`${VAR#glob}`, `${VAR##glob}`,
`${VAR%glob}`, `${VAR%%glob}`) and substrings (`${VAR:2}`, `${VAR:2:3}`); `$${VAR}` is an escaped
literal `${VAR}`. An operation on an unknowable value yields that variable's neutral marker.
An object annotated or labelled `kustomize.toolkit.fluxcd.io/substitute: disabled` is left alone.

Variables come from `spec.postBuild.substitute` (which wins) and `spec.postBuild.substituteFrom`
(ConfigMaps and Secrets, later entries win). A value that is encrypted (SOPS) is unknown offline: its
variable is replaced by a neutral marker (see `neutral.py`), so it neither breaks nor satisfies a
type check by accident.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..nested import mapping_or_empty
from .neutral import is_neutral, variable_marker
from .yamldocs import is_encrypted

DISABLE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
VARIABLE_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_EXPRESSION = re.compile(r"\$(\$?)\{([^}]*)\}")
_NAME = re.compile(r"^([_a-zA-Z][_a-zA-Z0-9]*)(.*)$", re.DOTALL)
_DEFAULT = re.compile(r"^(:=|:-|=|-)(.*)$", re.DOTALL)
_REPLACE = re.compile(r"^(//?)([^/]*)(?:/(.*))?$", re.DOTALL)
_TRIM = re.compile(r"^(##?|%%?)(.*)$", re.DOTALL)
_SUBSTRING = re.compile(r"^:\s*(-?\d+)(?::\s*(\d+))?$")


@dataclass
class Variables:
    """Known values by name; names whose value exists but is unknowable (encrypted) are `opaque`."""

    values: dict[str, str] = field(default_factory=dict)
    opaque: set[str] = field(default_factory=set)

    def set(self, name: str, value: str | None) -> None:
        if value is None:
            self.values.pop(name, None)
            self.opaque.add(name)
        else:
            self.opaque.discard(name)
            self.values[name] = value

    def update(self, other: Variables) -> None:
        for name in other.opaque:
            self.set(name, None)
        for name, value in other.values.items():
            self.set(name, value)


def variables_from_object(obj: Mapping[str, Any]) -> Variables:
    """The variables a ConfigMap or Secret provides to `substituteFrom`."""
    found = Variables()
    kind = obj.get("kind")
    if kind == "ConfigMap":
        for key, value in mapping_or_empty(obj.get("data")).items():
            found.set(str(key), _known(value))
    elif kind == "Secret":
        for key, value in mapping_or_empty(obj.get("data")).items():
            found.set(str(key), _decoded(value))
        for key, value in mapping_or_empty(obj.get("stringData")).items():
            found.set(str(key), _known(value))
    return found


def _known(value: Any) -> str | None:
    if value is None:
        return ""
    text = str(value)
    return None if is_encrypted(text) or is_neutral(text) else text


def _decoded(value: Any) -> str | None:
    text = _known(value)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def substitution_disabled(obj: Any) -> bool:
    if not isinstance(obj, Mapping):
        return False
    metadata = mapping_or_empty(obj.get("metadata"))
    for section in ("annotations", "labels"):
        if str(mapping_or_empty(metadata.get(section)).get(DISABLE_KEY, "")).lower() == "disabled":
            return True
    return False


@dataclass
class SubstitutionResult:
    text: str
    undefined: list[str]       # variables used without a value or default
    unsupported: list[str]     # expressions this validator does not evaluate


def substitute(text: str, variables: Variables) -> SubstitutionResult:
    """Replace variable expressions in `text`. An undefined variable gets its neutral marker (so
    validation continues) and is listed in `undefined`."""
    undefined: list[str] = []
    unsupported: list[str] = []

    def replace(match: re.Match) -> str:
        if match.group(1):  # `$${...}` is the escape for a literal `${...}`
            return match.group(0)[1:]
        body = match.group(2)
        length_of = body.startswith("#")
        head = _NAME.match(body[1:] if length_of else body)
        if head is None:
            unsupported.append(match.group(0))
            return match.group(0)
        name, operation = head.group(1), head.group(2)
        if length_of and operation:
            unsupported.append(match.group(0))
            return match.group(0)
        known, opaque = variables.values.get(name), name in variables.opaque
        default = _DEFAULT.match(operation)
        if default is not None:
            operator, fallback = default.groups()
            unset = known is None and not opaque
            if unset or (operator.startswith(":") and known == ""):
                return fallback
            operation = ""
        if operation and _transform("", operation) is None:
            unsupported.append(match.group(0))
            return match.group(0)
        if known is None:
            if not opaque and name not in undefined:
                undefined.append(name)
            return variable_marker(name)
        if length_of:
            return str(len(known))
        return _transform(known, operation) or ""

    return SubstitutionResult(_EXPRESSION.sub(replace, text), undefined, unsupported)


def _transform(value: str, operation: str) -> str | None:
    """Apply a bash-style operation of Flux's envsubst to a known value; None if unsupported."""
    if not operation:
        return value
    case = {"^^": str.upper, ",,": str.lower,
            "^": lambda v: v[:1].upper() + v[1:], ",": lambda v: v[:1].lower() + v[1:]}
    if operation in case:
        return case[operation](value)
    replacement = _REPLACE.match(operation)
    if replacement is not None:
        every, pattern, new = replacement.group(1) == "//", replacement.group(2), replacement.group(3) or ""
        return value.replace(pattern, new) if every else value.replace(pattern, new, 1)
    trim = _TRIM.match(operation)
    if trim is not None:
        return _trim(value, trim.group(1), trim.group(2))
    substring = _SUBSTRING.match(operation)
    if substring is not None:
        start = int(substring.group(1))
        start = max(len(value) + start, 0) if start < 0 else start
        end = None if substring.group(2) is None else start + int(substring.group(2))
        return value[start:end]
    return None


def _trim(value: str, operator: str, pattern: str) -> str:
    """`#`/`##`: remove the shortest/longest prefix matching a glob; `%`/`%%`: the same for suffixes."""
    cuts = range(len(value) + 1)
    if operator in ("#", "##"):
        for i in (cuts if operator == "#" else reversed(cuts)):
            if fnmatch.fnmatchcase(value[:i], pattern):
                return value[i:]
    else:
        for i in (reversed(cuts) if operator == "%" else cuts):
            if fnmatch.fnmatchcase(value[i:], pattern):
                return value[:i]
    return value
