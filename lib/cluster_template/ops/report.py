"""Tables for status and diagnostics reports: rows that know whether they are healthy and why not.

The library builds `Table`s; tasks render them (`render_table`) or dump them as JSON (`to_dict`).
A row that is not OK is marked with `✗` in the first column and its reason is printed under the
table, so a problem stands out in a long listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BAD = "✗"


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    ok: bool = True
    reason: str = ""  # why the row is not OK


@dataclass
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    error: str | None = None  # the table could not be read at all (and that is a problem)
    note: str | None = None  # shown instead of rows, not a problem ("not installed")

    def add(self, *cells: object, ok: bool = True, reason: str = "") -> None:
        self.rows.append(Row(tuple("" if cell is None else str(cell) for cell in cells), ok, reason))

    @property
    def ok(self) -> bool:
        return self.error is None and all(row.ok for row in self.rows)

    def problems(self) -> list[str]:
        if self.error is not None:
            return [f"{self.title}: {self.error}"]
        return [f"{self.title}: {self.row_name(row)}: {row.reason or 'not ready'}" for row in self.rows if not row.ok]

    def row_name(self, row: Row) -> str:
        """`namespace/name` for namespaced tables, else the first cell."""
        if self.columns[:1] == ("NAMESPACE",) and len(row.cells) > 1:
            return f"{row.cells[0]}/{row.cells[1]}"
        return row.cells[0] if row.cells else ""

    def to_dict(self) -> dict[str, Any]:
        keys = [column.lower().replace(" ", "_") for column in self.columns]
        return {
            "title": self.title,
            "ok": self.ok,
            "error": self.error,
            "note": self.note,
            "rows": [dict(zip(keys, row.cells)) | {"ok": row.ok, "reason": row.reason} for row in self.rows],
        }


def render_table(table: Table, *, max_width: int = 80) -> str:
    """The table as aligned text: a title line, the header, the rows (bad ones marked), then the
    reasons of the bad rows. Cells longer than `max_width` are shortened."""
    lines = [f"== {table.title}"]
    if table.error is not None:
        lines.append(f"{BAD} cannot read: {table.error}")
        return "\n".join(lines)
    if not table.rows:
        lines.append(f"  {table.note or '(none)'}")
        return "\n".join(lines)
    cells = [list(table.columns)] + [[_clip(cell, max_width) for cell in row.cells] for row in table.rows]
    widths = [max(len(line[index]) for line in cells if index < len(line)) for index in range(len(table.columns))]
    marks = [" "] + [" " if row.ok else BAD for row in table.rows]
    for mark, line in zip(marks, cells):
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        lines.append(f"{mark} {text}")
    for row in table.rows:
        if not row.ok and row.reason:
            lines.append(f"  {BAD} {table.row_name(row)}: {row.reason}")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
