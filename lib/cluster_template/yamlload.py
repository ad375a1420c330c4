"""The one way the project reads a YAML file it did not just write itself, and the one way a YAML
error becomes a message.

Files an operator edits by hand (`talos/talconfig.yaml`, the infrastructure YAML) and files that
hold secrets (decrypted sops output, a rendered secret before encryption) are read here. Errors
become `YamlError`: `file:line: problem` on one line. For a secret (`secret=True`) the problem text
is dropped, since ruamel quotes the offending characters and those are the secret.
YAML 1.2 (ruamel's default): `on`/`off`/`yes` stay strings, as Go decoders read them.
The validator reads the rendered tree through `validate/yamldocs.py` instead: the same YAML 1.2
rules on libyaml for speed, with its errors mapped to validation issues per document.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ClusterTemplateError


class YamlError(ClusterTemplateError):
    """A YAML text did not parse. `line` is 1-based when known."""

    def __init__(self, source: str, problem: str, line: int | None = None):
        self.source, self.problem, self.line = source, problem, line
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: invalid YAML: {problem}")


def describe(error: BaseException, *, secret: bool = False) -> tuple[int | None, str]:
    """(1-based line or None, one-line problem) for an exception a ruamel loader raised."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(error, RecursionError):
        return line, "nested too deeply"
    if _is_second_document(error):  # the message quotes no text, so it is safe for secrets too
        return line, "more than one YAML document, where one is expected"
    if secret:
        return line, f"{type(error).__name__} (the text is not shown: it holds secrets)"
    parts = [getattr(error, "context", None), getattr(error, "problem", None)]
    problem = " ".join(str(part) for part in parts if part) or str(error)
    return line, re.sub(r"\s+", " ", problem).strip() or type(error).__name__


def _is_second_document(error: BaseException) -> bool:
    return type(error).__name__ == "ComposerError" and "single document" in str(getattr(error, "context", ""))


def _errors() -> tuple[type[BaseException], ...]:
    from ruamel.yaml.error import YAMLError, YAMLStreamError

    # IndexError: ruamel's integer constructor fails on a sign and underscores alone (`-_`).
    return (YAMLError, YAMLStreamError, RecursionError, ValueError, TypeError, IndexError)


def load(text: str, *, source: str, secret: bool = False) -> Any:
    """The single document of `text` as plain Python data (None when empty)."""
    from ruamel.yaml import YAML

    try:
        return YAML(typ="safe", pure=True).load(text)
    except _errors() as error:
        line, problem = describe(error, secret=secret)
        raise YamlError(source, problem, line) from None


def load_all(text: str, *, source: str, secret: bool = False) -> list[Any]:
    """Every non-empty document of a multi-document `text`."""
    from ruamel.yaml import YAML

    try:
        return [document for document in YAML(typ="safe", pure=True).load_all(text) if document is not None]
    except _errors() as error:
        line, problem = describe(error, secret=secret)
        raise YamlError(source, problem, line) from None
