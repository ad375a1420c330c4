"""YAML in and out the way Talos reads and writes it.

Reading: Talos decodes with go-yaml, which follows YAML 1.2 for booleans (`off` stays a string) but,
like Go's `strconv.ParseInt(s, 0, 64)`, reads a leading-zero integer (`0644`) as octal. Timestamps
are not a type for Talos either, so `2024-01-01` stays a string. Duplicate keys are an error.

Writing: the layout of go-yaml with a 4-space indent, as in the files `talosctl` writes, block
style everywhere, `{}`/`[]` for empty containers, sequences indented under their key, and the
go-yaml quirk that the children of a key inside a sequence item sit 4 columns right of the dash
(not of the key). A string is written plain only when every YAML 1.1 and 1.2 reader would read it
back as the same string; otherwise it is double-quoted, so `off`, `yes`, `1.35` or `0o644` keep
their type for any consumer. Multi-line strings use literal block style. The output depends only
on the data, so equal data always gives equal bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import TalosYamlError

INDENT = 4

_BOOL = r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)"
_NULL = r"(?:~|null|Null|NULL)"
_INT = r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
_FLOAT = (
    r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_TIMESTAMP = (
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
# Any of these would be read back as something other than a string by a YAML 1.1 or 1.2 reader.
_NOT_A_PLAIN_STRING = re.compile(rf"^(?:{_BOOL}|{_NULL}|{_INT}|{_FLOAT}|{_TIMESTAMP}|<<|=)$")
_PLAIN_FORBIDDEN_FIRST = set("-?:,[]{}#&*!|>'\"%@`")


# --------------------------------------------------------------------------------------------- reading


def _talos_yaml() -> Any:
    """A ruamel.yaml safe loader with the scalar rules described in the module docstring."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import SafeConstructor
    from ruamel.yaml.resolver import VersionedResolver, implicit_resolvers

    kept_tags = {
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:merge",
    }

    class TalosResolver(VersionedResolver):
        """YAML 1.2 implicit types without timestamps and the `=` value tag."""

        @property
        def versioned_resolver(self) -> Any:
            table = self._version_implicit_resolver.get("talos")
            if table is None:
                table = {}
                for versions, tag, regexp, first in implicit_resolvers:
                    if (1, 2) in versions and tag in kept_tags:
                        # ruamel's integer pattern also matches a sign and underscores alone (`+_`),
                        # which go-yaml reads as a string: an integer has a digit.
                        pattern = (re.compile(r"(?=.*[0-9])(?:" + regexp.pattern + ")", regexp.flags)
                                   if tag == "tag:yaml.org,2002:int" else regexp)
                        # No first characters: the resolver is tried for every scalar (the None slot).
                        chars: list[str | None] = list(first) if first else [None]
                        for char in chars:
                            table.setdefault(char, []).append((tag, pattern))
                self._version_implicit_resolver["talos"] = table
            return table

    class TalosConstructor(SafeConstructor):
        """Integers as go-yaml reads them: `0x`, `0o`, `0b` prefixes and legacy leading-zero octal."""

    def construct_int(constructor: Any, node: Any) -> int:
        text = str(constructor.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        if digits[:2].lower() in ("0x", "0o", "0b"):
            return sign * int(digits, 0)
        if len(digits) > 1 and digits.startswith("0") and set(digits) <= set("01234567"):
            return sign * int(digits, 8)
        return sign * int(digits)

    TalosConstructor.add_constructor("tag:yaml.org,2002:int", construct_int)

    yaml = YAML(typ="safe", pure=True)
    yaml.Resolver = TalosResolver
    yaml.Constructor = TalosConstructor
    return yaml


def load_documents(text: str, *, source: str = "<text>") -> list[Any]:
    """Every non-empty document of a multi-document YAML text, as plain Python data."""
    from ruamel.yaml.error import YAMLError

    try:
        documents = list(_talos_yaml().load_all(text))
    except YAMLError as err:
        raise TalosYamlError(source, " ".join(str(err).split())) from err
    except ValueError as err:  # an integer literal the constructor could not read
        raise TalosYamlError(source, str(err)) from err
    return [document for document in documents if document is not None]


def load_document(text: str, *, source: str = "<text>") -> Any:
    """The single document of a YAML text; more than one document is an error."""
    documents = load_documents(text, source=source)
    if len(documents) > 1:
        raise TalosYamlError(source, f"expected one YAML document, found {len(documents)}")
    return documents[0] if documents else None


# --------------------------------------------------------------------------------------------- writing


def dump_document(data: Any) -> str:
    """One YAML document (no `---` marker), newline-terminated."""
    if isinstance(data, Mapping):
        lines = _mapping_lines(data, 0, INDENT) if data else ["{}"]
    elif isinstance(data, Sequence) and not isinstance(data, str):
        lines = _sequence_lines(data, 0) if data else ["[]"]
    elif isinstance(data, str) and "\n" in data and _literal_ok(data):
        lines = _literal_lines(data, "", INDENT)
    else:
        lines = [_scalar(data)]
    return "\n".join(lines) + "\n"


def dump_documents(documents: Sequence[Any]) -> str:
    """Several documents separated by `---` lines, as Talos writes a multi-document config."""
    return "---\n".join(dump_document(document) for document in documents)


def _mapping_lines(mapping: Mapping[Any, Any], key_column: int, child_column: int) -> list[str]:
    lines: list[str] = []
    pad = " " * key_column
    for key, value in mapping.items():
        head = f"{pad}{_key(key)}:"
        lines.extend(_value_lines(head, value, child_column))
    return lines


def _sequence_lines(sequence: Sequence[Any], dash_column: int) -> list[str]:
    lines: list[str] = []
    pad = " " * dash_column
    for item in sequence:
        if isinstance(item, Mapping) and item:
            nested = _mapping_lines(item, dash_column + 2, dash_column + INDENT)
        elif isinstance(item, Sequence) and not isinstance(item, str) and item:
            nested = _sequence_lines(item, dash_column + 2)
        else:
            lines.extend(_value_lines(f"{pad}-", item, dash_column + INDENT))
            continue
        nested[0] = f"{pad}- {nested[0][dash_column + 2:]}"
        lines.extend(nested)
    return lines


def _value_lines(head: str, value: Any, child_column: int) -> list[str]:
    """`head` (a `key:` or a `-`) followed by `value`, inline when it is a scalar or empty."""
    if isinstance(value, Mapping):
        if not value:
            return [f"{head} {{}}"]
        return [head, *_mapping_lines(value, child_column, child_column + INDENT)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return [f"{head} []"]
        return [head, *_sequence_lines(value, child_column)]
    if isinstance(value, str) and "\n" in value and _literal_ok(value):
        return _literal_lines(value, head, child_column)
    return [f"{head} {_scalar(value)}"]


def _literal_lines(text: str, head: str, column: int) -> list[str]:
    if text.endswith("\n\n"):
        indicator = "|+"
    elif text.endswith("\n"):
        indicator = "|"
    else:
        indicator = "|-"
    body = text[:-1] if text.endswith("\n") else text
    pad = " " * column
    opener = f"{head} {indicator}" if head else indicator
    return [opener, *(f"{pad}{line}" if line else "" for line in body.split("\n"))]


def _literal_ok(text: str) -> bool:
    """Whether a multi-line string survives literal block style unchanged."""
    if text.startswith((" ", "\n")) or "\r" in text:
        return False
    if any(line != line.rstrip(" \t") for line in text.split("\n")):
        return False
    return all(char == "\n" or char == "\t" or _printable(char) for char in text)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _string(key)
    return _scalar(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML: {value!r}")


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, exponent_mark, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"  # YAML 1.1 readers need a dot to see a float
    return f"{mantissa}{exponent_mark}{exponent}"


def _string(text: str) -> str:
    if _plain_ok(text):
        return text
    return _double_quoted(text)


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, the rest escaped."""
    parts = []
    for char in text:
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif _printable(char):
            parts.append(char)
        elif ord(char) <= 0xFF:
            parts.append(f"\\x{ord(char):02x}")
        else:
            parts.append(f"\\u{ord(char):04x}")
    return '"' + "".join(parts) + '"'


def _plain_ok(text: str) -> bool:
    if not text or text != text.strip() or text[0] in _PLAIN_FORBIDDEN_FIRST:
        return False
    if text.startswith(("---", "...")) or ": " in text or " #" in text or text.endswith(":"):
        return False
    if not all(_printable(char) for char in text):
        return False
    return not _NOT_A_PLAIN_STRING.match(text)


def _printable(char: str) -> bool:
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return False
    return code not in (0x2028, 0x2029, 0xFEFF) and not 0xD800 <= code <= 0xDFFF
