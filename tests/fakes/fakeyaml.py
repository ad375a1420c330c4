"""A small YAML reader and writer for the fake CLIs (standard library only, so the fakes start fast).

The reader understands the subset that talosconfig files, Talos machine configs and helmfile
state files use: block mappings and sequences, flow collections (`[a, 'b']`, `{}`), plain and
quoted scalars, block scalars (`|`, `>`), comments and `---` document separators. Anchors, tags
and multi-line plain scalars are not supported; the fakes never need them.

The writer imitates go-yaml's output with a 4-space indent, which is what talosctl prints.
"""

from __future__ import annotations

import json
import re

__all__ = ["YamlError", "dump", "load", "load_all"]


class YamlError(ValueError):
    """The text is not YAML this reader understands."""


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _resolve_plain(text: str) -> object:
    """Type a plain (unquoted) scalar the way YAML 1.2's core schema does."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _HEX.match(text):
        return int(text, 16)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _FLOAT.match(text) and any(ch.isdigit() for ch in text):
        return float(text)
    if text in (".inf", "+.inf", ".Inf"):
        return float("inf")
    if text in ("-.inf", "-.Inf"):
        return float("-inf")
    return text


def _strip_comment(text: str) -> str:
    """Drop a trailing `# comment` that is outside quotes."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"" and (index == 0 or text[index - 1] in " \t[{,:"):
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            return text[:index].rstrip()
    return text.rstrip()


def _split_key(content: str) -> tuple[str, str] | None:
    """Split `key: value` at the first mapping colon outside quotes and brackets."""
    if content.startswith(("- ", "[", "{")) or content == "-":
        return None
    quote = ""
    depth = 0
    for index, char in enumerate(content):
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"" and index == 0:
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == ":" and depth == 0 and (index + 1 == len(content) or content[index + 1] in " \t"):
            key = content[:index].strip()
            if key.startswith(("'", '"')):
                key = _parse_quoted(key)[0]
            return key, content[index + 1:].strip()
    return None


def _parse_quoted(text: str) -> tuple[str, int]:
    """Parse a quoted scalar at the start of `text`; return it and the index after it."""
    quote = text[0]
    out: list[str] = []
    index = 1
    while index < len(text):
        char = text[index]
        if quote == "'":
            if char == "'":
                if index + 1 < len(text) and text[index + 1] == "'":
                    out.append("'")
                    index += 2
                    continue
                return "".join(out), index + 1
            out.append(char)
        else:
            if char == "\\" and index + 1 < len(text):
                escape = text[index + 1]
                simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/", "0": "\0", " ": " "}
                if escape in simple:
                    out.append(simple[escape])
                    index += 2
                    continue
                if escape in "xuU":
                    width = {"x": 2, "u": 4, "U": 8}[escape]
                    out.append(chr(int(text[index + 2:index + 2 + width], 16)))
                    index += 2 + width
                    continue
                raise YamlError(f"unknown escape \\{escape}")
            if char == '"':
                return "".join(out), index + 1
            out.append(char)
        index += 1
    raise YamlError(f"unterminated quoted scalar: {text}")


class _FlowParser:
    """Parses flow collections such as `['a', b, {c: d}]`."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def parse(self) -> object:
        value = self._value()
        self._spaces()
        if self.pos != len(self.text):
            raise YamlError(f"unexpected text after flow value: {self.text[self.pos:]!r}")
        return value

    def _spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def _value(self) -> object:
        self._spaces()
        if self.pos >= len(self.text):
            return None
        char = self.text[self.pos]
        if char == "[":
            return self._sequence()
        if char == "{":
            return self._mapping()
        if char in "'\"":
            value, used = _parse_quoted(self.text[self.pos:])
            self.pos += used
            return value
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",]}":
            if self.text[self.pos] == ":" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] == " ":
                break
            self.pos += 1
        return _resolve_plain(self.text[start:self.pos].strip())

    def _sequence(self) -> list:
        self.pos += 1
        items: list = []
        while True:
            self._spaces()
            if self.pos < len(self.text) and self.text[self.pos] == "]":
                self.pos += 1
                return items
            items.append(self._value())
            self._spaces()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            elif self.pos >= len(self.text):
                raise YamlError("unterminated flow sequence")

    def _mapping(self) -> dict:
        self.pos += 1
        items: dict = {}
        while True:
            self._spaces()
            if self.pos < len(self.text) and self.text[self.pos] == "}":
                self.pos += 1
                return items
            key = self._value()
            self._spaces()
            value = None
            if self.pos < len(self.text) and self.text[self.pos] == ":":
                self.pos += 1
                value = self._value()
            items[key] = value
            self._spaces()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
            elif self.pos >= len(self.text):
                raise YamlError("unterminated flow mapping")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class _BlockParser:
    """Indentation-driven parser for one document's lines."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.index = 0

    def _significant(self) -> int | None:
        """Index of the next line with content, skipping blanks and comments."""
        while self.index < len(self.lines):
            stripped = self.lines[self.index].strip()
            if stripped and not stripped.startswith("#"):
                return self.index
            self.index += 1
        return None

    def node(self, min_indent: int) -> object:
        at = self._significant()
        if at is None:
            return None
        line = self.lines[at]
        indent = _indent_of(line)
        if indent < min_indent:
            return None
        content = _strip_comment(line.strip())
        if content == "-" or content.startswith("- "):
            return self._sequence(indent)
        if _split_key(content) is not None:
            return self._mapping(indent)
        self.index += 1
        return self._inline(content, indent)

    def _mapping(self, indent: int) -> dict:
        result: dict = {}
        while True:
            at = self._significant()
            if at is None:
                return result
            line = self.lines[at]
            current = _indent_of(line)
            if current < indent:
                return result
            if current > indent:
                raise YamlError(f"line {at + 1}: unexpected indentation")
            content = _strip_comment(line.strip())
            split = _split_key(content)
            if split is None:
                return result
            key, rest = split
            self.index += 1
            result[key] = self._value(rest, indent, in_mapping=True)

    def _sequence(self, indent: int) -> list:
        result: list = []
        while True:
            at = self._significant()
            if at is None:
                return result
            line = self.lines[at]
            if _indent_of(line) != indent:
                return result
            content = _strip_comment(line.strip())
            if not (content == "-" or content.startswith("- ")):
                return result
            rest = content[1:].strip()
            if not rest:
                self.index += 1
                result.append(self.node(indent + 1))
                continue
            if _split_key(rest) is not None or rest.startswith("- "):
                # "- key: value": blank out the dash so the item's mapping starts at its own column.
                self.lines[at] = line[:indent] + " " + line[indent + 1:]
                result.append(self.node(indent + 1))
                continue
            self.index += 1
            result.append(self._value(rest, indent, in_mapping=False))

    def _value(self, rest: str, indent: int, *, in_mapping: bool) -> object:
        if rest.startswith(("|", ">")):
            return self._block_scalar(rest, indent)
        if rest.startswith(("!!str ", "!!binary ")):
            rest = rest.split(" ", 1)[1]
        if not rest:
            at = self._significant()
            if at is None:
                return None
            nested = _indent_of(self.lines[at])
            content = self.lines[at].strip()
            if nested > indent:
                return self.node(indent + 1)
            if in_mapping and nested == indent and (content == "-" or content.startswith("- ")):
                return self._sequence(indent)
            return None
        return self._inline(rest, indent)

    def _inline(self, rest: str, indent: int) -> object:
        if rest.startswith(("[", "{")):
            text = rest
            while not _balanced(text):
                if self.index >= len(self.lines):
                    raise YamlError("unterminated flow collection")
                text += " " + _strip_comment(self.lines[self.index].strip())
                self.index += 1
            return _FlowParser(text).parse()
        if rest.startswith(("'", '"')):
            value, used = _parse_quoted(rest)
            if rest[used:].strip():
                raise YamlError(f"unexpected text after quoted scalar: {rest!r}")
            return value
        return _resolve_plain(rest)

    def _block_scalar(self, header: str, indent: int) -> str:
        style, chomp = header[0], "clip"
        if "-" in header:
            chomp = "strip"
        elif "+" in header:
            chomp = "keep"
        body: list[str] = []
        block_indent: int | None = None
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if not line.strip():
                body.append("")
                self.index += 1
                continue
            current = _indent_of(line)
            if block_indent is None:
                if current <= indent:
                    break
                block_indent = current
            if current < block_indent:
                break
            body.append(line[block_indent:])
            self.index += 1
        while body and body[-1] == "" and chomp != "keep":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            text = ""
            for part in body:
                if not part:
                    text += "\n"
                elif text and not text.endswith("\n"):
                    text += " " + part
                else:
                    text += part
        if chomp == "strip" or not body:
            return text
        return text + "\n"


def _balanced(text: str) -> bool:
    depth = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth <= 0


def load_all(text: str) -> list:
    """Every document in `text` (empty documents are skipped)."""
    documents: list[list[str]] = [[]]
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip() in ("---", "...") or line.startswith("--- "):
            documents.append([])
            tail = line[4:].strip() if line.startswith("--- ") else ""
            if tail:
                documents[-1].append(tail)
            continue
        if line.startswith("%"):
            continue
        documents[-1].append(line.expandtabs(2) if line.startswith("\t") else line)
    parsed = []
    for lines in documents:
        if not any(line.strip() and not line.strip().startswith("#") for line in lines):
            continue
        parser = _BlockParser(lines)
        value = parser.node(0)
        if parser._significant() is not None:
            raise YamlError(f"line {parser.index + 1}: cannot parse {lines[parser.index].strip()!r}")
        parsed.append(value)
    return parsed


def load(text: str) -> object:
    """The first document in `text`, or None."""
    documents = load_all(text)
    return documents[0] if documents else None


# -- writer ----------------------------------------------------------------------------------

_NEEDS_QUOTES = re.compile(r"^[-?:](\s|$)|^[\s,\[\]{}#&*!|>'\"%@`]|\s$|: | #|^$")


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if _NEEDS_QUOTES.search(text) or not isinstance(_resolve_plain(text), str) or "\n" in text:
        return json.dumps(text)
    return text


def _emit(value: object, indent: int, out: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            _emit_entry(pad + _scalar(key) + ":", item, indent, out)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                inner: list[str] = []
                _emit(item, indent + 2, inner)
                first = inner[0]
                out.append(pad + "- " + first[indent + 2:])
                out.extend(inner[1:])
            elif isinstance(item, list) and item:
                out.append(pad + "-")
                _emit(item, indent + 4, out)
            else:
                _emit_entry(pad + "-", item, indent, out)
    else:
        out.append(pad + _scalar(value))


def _emit_entry(prefix: str, item: object, indent: int, out: list[str]) -> None:
    if isinstance(item, dict):
        if not item:
            out.append(prefix + " {}")
        else:
            out.append(prefix)
            _emit(item, indent + 4, out)
    elif isinstance(item, list):
        if not item:
            out.append(prefix + " []")
        else:
            out.append(prefix)
            _emit(item, indent + 4, out)
    elif isinstance(item, str) and "\n" in item:
        marker = "|" if item.endswith("\n") else "|-"
        if item.endswith("\n\n"):
            marker = "|+"
        out.append(f"{prefix} {marker}")
        for line in item.rstrip("\n").split("\n") if marker != "|+" else item[:-1].split("\n"):
            out.append((" " * (indent + 4) + line) if line else "")
    else:
        out.append(f"{prefix} {_scalar(item)}")


def dump(value: object) -> str:
    """YAML text for `value` (dicts keep their order), go-yaml style with a 4-space indent."""
    out: list[str] = []
    if isinstance(value, (dict, list)) and value:
        _emit(value, 0, out)
    elif isinstance(value, dict):
        out.append("{}")
    elif isinstance(value, list):
        out.append("[]")
    else:
        out.append(_scalar(value))
    return "\n".join(out) + "\n"
