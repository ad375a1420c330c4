"""Parsers for the output formats the Go CLIs share: a stream of JSON objects and tabwriter tables."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import ClusterTemplateError


class UnexpectedOutput(ClusterTemplateError):
    """A tool printed something its parser does not understand."""


def json_stream(text: str, *, tool: str = "tool") -> list[dict[str, Any]]:
    """Objects of a stream of JSON values written one after another (`talosctl get -o json`)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return objects
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise UnexpectedOutput(f"{tool} printed output that is not JSON near character {exc.pos}") from None
        if isinstance(value, dict):
            objects.append(value)


def table(text: str) -> list[dict[str, str]]:
    """Rows of a table whose first line holds upper-case headers and whose cells are separated by
    two or more spaces (Go's tabwriter); keys are the lower-cased headers."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    if "\t" in header:  # tablewriter (flux): cells end with a tab
        names = [cell.strip().lower() for cell in header.split("\t")]
        return [dict(zip(names, (cell.strip() for cell in line.split("\t")))) for line in lines[1:]]
    starts = [match.start() for match in re.finditer(r"(?:(?<=\s\s)|^)\S", header)]
    names = [header[start:end].strip().lower() for start, end in zip(starts, [*starts[1:], None])]
    rows = []
    for line in lines[1:]:
        cells = [line[start:end].strip() for start, end in zip(starts, [*starts[1:], None])]
        rows.append(dict(zip(names, cells)))
    return rows
