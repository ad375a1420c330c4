"""Go (RE2) regular expressions, as found in CRD schemas, translated to Python.

Kubernetes evaluates a CRD's `pattern` with Go's `regexp`, whose syntax differs from Python's `re`:

- inline flags may appear anywhere (`^((?i)sun|mon)day`) and last until the end of the enclosing
  group, across later alternatives; Python only allows them at the very start. They are rewritten as
  scoped groups, closed and reopened around each `|` so alternation is unchanged:
  `^((?i:sun)|(?i:mon))day`;
- `$` without the `m` flag matches only at the very end (Python's `$` also matches before a final
  newline): it becomes `\\Z`; `\\z` becomes `\\Z`;
- `\\pC` / `\\PC` / `\\p{Greek}` (Unicode classes) need the third-party `regex` module;
- `\\Q...\\E` literals, `\\x{...}` code points, `(?<name>...)` groups and `[[:alpha:]]` classes are
  rewritten to their Python spelling;
- `\\d`, `\\w`, `\\s` are ASCII-only in Go: they become explicit ASCII classes.

A construct with no Python equivalent (`(?U)`, `\\C`, negated POSIX classes) raises
`UntranslatablePattern`; the validator reports it as an error naming the schema, it never skips the
check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol


class UntranslatablePattern(ValueError):
    """A Go regular expression that has no Python equivalent here."""


class CompiledPattern(Protocol):
    def search(self, string: str): ...


_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_PERL_CLASSES = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]*)?)\)")
_FLAG_SCOPE = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]*)?):")
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_GO_FLAGS = set("imsU")


@lru_cache(maxsize=None)
def compile_go(pattern: str) -> CompiledPattern:
    """Compile a Go regular expression into an equivalent Python pattern object (cached)."""
    translated, needs_unicode_classes = translate(pattern)
    if needs_unicode_classes:
        try:
            import regex
        except ImportError:
            raise UntranslatablePattern(
                f"{pattern!r} uses Unicode classes (\\p, \\P), which need the 'regex' package") from None
        try:
            return regex.compile(translated, regex.V1)
        except regex.error as exc:
            raise UntranslatablePattern(f"{pattern!r}: {exc}") from None
    try:
        return re.compile(translated)
    except re.error as exc:
        raise UntranslatablePattern(f"{pattern!r}: {exc}") from None


def translate(pattern: str) -> tuple[str, bool]:
    """Return (Python pattern, needs the `regex` module)."""
    return _Translator(pattern).run()


class _Translator:
    def __init__(self, pattern: str):
        self.src = pattern
        self.pos = 0
        self.out: list[str] = []
        self.needs_regex = False
        self.multiline = _sets_multiline(pattern)
        # One entry per open group (the first is the whole pattern): the inline flags switched on
        # so far in that group, each emitted as an open `(?flags:` scope.
        self.scopes: list[list[str]] = [[]]

    def fail(self, why: str) -> UntranslatablePattern:
        return UntranslatablePattern(f"{self.src!r}: {why} (at offset {self.pos})")

    def run(self) -> tuple[str, bool]:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "\\":
                self.escape(in_class=False)
            elif char == "[":
                self.char_class()
            elif char == "(":
                self.open_group()
            elif char == ")":
                self.close_group()
            elif char == "|":
                active = self.scopes[-1]
                self.out.append(")" * len(active) + "|" + "".join(f"(?{flags}:" for flags in active))
                self.pos += 1
            elif char == "$" and not self.multiline:
                self.out.append(r"\Z")
                self.pos += 1
            else:
                self.out.append(char)
                self.pos += 1
        if len(self.scopes) != 1:
            raise self.fail("missing closing parenthesis")
        self.out.append(")" * len(self.scopes[0]))
        return "".join(self.out), self.needs_regex

    def open_group(self) -> None:
        rest = self.src[self.pos:]
        flags_only = _FLAG_GROUP.match(rest)
        if flags_only:
            flags = self._checked_flags(flags_only.group(1))
            self.out.append(f"(?{flags}:")
            self.scopes[-1].append(flags)
            self.pos += flags_only.end()
            return
        scoped = _FLAG_SCOPE.match(rest)
        if scoped:
            flags = scoped.group(1)
            self.out.append(f"(?{self._checked_flags(flags)}:" if flags else "(?:")
            self.pos += scoped.end()
        elif (named := _NAMED_GROUP.match(rest)) is not None:
            self.out.append(f"(?P<{named.group(1)}>")
            self.pos += named.end()
        elif rest.startswith("(?"):
            raise self.fail("unsupported group syntax")
        else:
            self.out.append("(")
            self.pos += 1
        self.scopes.append([])

    def close_group(self) -> None:
        if len(self.scopes) == 1:
            raise self.fail("unbalanced ')'")
        self.out.append(")" * len(self.scopes.pop()) + ")")
        self.pos += 1

    def _checked_flags(self, flags: str) -> str:
        letters = set(flags.replace("-", ""))
        if not letters:
            raise self.fail("empty flag group")
        unknown = letters - _GO_FLAGS
        if unknown:
            raise self.fail(f"unknown flag(s) {''.join(sorted(unknown))}")
        if "U" in letters:
            raise self.fail("the ungreedy flag U has no Python equivalent")
        return flags

    def escape(self, *, in_class: bool) -> None:
        if self.pos + 1 >= len(self.src):
            raise self.fail("trailing backslash")
        code = self.src[self.pos + 1]
        if code == "Q":
            end = self.src.find("\\E", self.pos + 2)
            literal = self.src[self.pos + 2:] if end < 0 else self.src[self.pos + 2:end]
            self.out.append("".join(_escape_literal(c) for c in literal))
            self.pos = len(self.src) if end < 0 else end + 2
        elif code == "z" and not in_class:
            self.out.append(r"\Z")
            self.pos += 2
        elif code in "pP":
            self.needs_regex = True
            if self.src.startswith("{", self.pos + 2):
                end = self.src.find("}", self.pos + 3)
                if end < 0:
                    raise self.fail("unterminated \\p{")
                self.out.append(self.src[self.pos:end + 1])
                self.pos = end + 1
            else:
                self.out.append(self.src[self.pos:self.pos + 3])
                self.pos += 3
        elif code == "x" and self.src.startswith("{", self.pos + 2):
            end = self.src.find("}", self.pos + 3)
            if end < 0:
                raise self.fail("unterminated \\x{")
            try:
                codepoint = int(self.src[self.pos + 3:end], 16)
                self.out.append(_escape_literal(chr(codepoint)))
            except ValueError:
                raise self.fail("bad \\x{...} escape") from None
            self.pos = end + 1
        elif code == "C":
            raise self.fail("\\C (any byte) has no Python equivalent")
        elif code in _PERL_CLASSES:
            # Go's \d, \s, \w are ASCII-only; Python's are Unicode-aware.
            members = _PERL_CLASSES[code]
            self.out.append(members if in_class else f"[{members}]")
            self.pos += 2
        elif code in "DSW" and not in_class:
            self.out.append(f"[^{_PERL_CLASSES[code.lower()]}]")
            self.pos += 2
        else:
            self.out.append(self.src[self.pos:self.pos + 2])
            self.pos += 2

    def char_class(self) -> None:
        self.out.append("[")
        self.pos += 1
        if self.src.startswith("^", self.pos):
            self.out.append("^")
            self.pos += 1
        if self.src.startswith("]", self.pos):  # a leading ']' is a literal in Go
            self.out.append(r"\]")
            self.pos += 1
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "\\":
                self.escape(in_class=True)
            elif char == "]":
                self.out.append("]")
                self.pos += 1
                return
            elif self.src.startswith("[:", self.pos):
                end = self.src.find(":]", self.pos + 2)
                name = self.src[self.pos + 2:end] if end >= 0 else ""
                if name.startswith("^"):
                    raise self.fail(f"negated POSIX class [:{name}:]")
                if name not in _POSIX_CLASSES:
                    raise self.fail(f"unknown POSIX class [:{name}:]")
                self.out.append(_POSIX_CLASSES[name])
                self.pos = end + 2
            elif char in "[&~|":
                # Literal in a Go class; Python reads '[' as a nested set and doubled '&&', '~~',
                # '||' as set operations (with a warning), so escape them.
                self.out.append("\\" + char)
                self.pos += 1
            else:
                self.out.append(char)
                self.pos += 1
        raise self.fail("missing closing ']'")


def _sets_multiline(pattern: str) -> bool:
    for match in re.finditer(r"\(\?([a-zA-Z]*)(?:-[a-zA-Z]*)?[:)]", pattern):
        if "m" in match.group(1):
            return True
    return False


def _escape_literal(char: str) -> str:
    return re.escape(char)
