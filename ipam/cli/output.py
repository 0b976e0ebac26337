"""How results are printed: aligned columns, bars and colour for people; JSON or YAML for scripts.

Colour is used only when the stream is a terminal, ``NO_COLOR`` is unset and ``TERM`` is
not ``dumb``, so piped output never carries an escape code. Bars are drawn with block
characters when the stream's encoding has them, else with ``#`` and ``.``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

FORMATS = ("json", "yaml")
CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
CLEAR_SCREEN = "\x1b[H\x1b[2J"

Cell = str | tuple[str, str]
"""A table cell: its text, or (its plain text, the same as shown, escape codes included)."""


@dataclass(frozen=True)
class Style:
    """What the output stream can show: colour, and block characters."""

    color: bool
    blocks: bool
    terminal: bool

    @classmethod
    def of(cls, stream: TextIO) -> Style:
        terminal = bool(getattr(stream, "isatty", lambda: False)())
        color = terminal and "NO_COLOR" not in os.environ and os.environ.get("TERM", "") != "dumb"
        try:
            "█░".encode(stream.encoding or "ascii")
            blocks = True
        except (UnicodeEncodeError, LookupError):
            blocks = False
        return cls(color=color, blocks=blocks, terminal=terminal)

    def paint(self, text: str, colour: str | None) -> str:
        if not self.color or not colour or not text:
            return text
        return f"\x1b[{CODES[colour]}m{text}\x1b[0m"

    def cell(self, text: str, colour: str | None) -> Cell:
        """A table cell shown in ``colour`` (plain when colour is off)."""
        return (text, self.paint(text, colour))

    def bar(self, filled: int, width: int, colour: str | None = None) -> Cell:
        """A bar of ``width`` cells, ``filled`` of them full, as a table cell."""
        full, empty = ("█", "░") if self.blocks else ("#", ".")
        plain = full * filled + empty * (width - filled)
        return (
            plain,
            self.paint(full * filled, colour) + self.paint(empty * (width - filled), "dim"),
        )


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    style: Style,
    *,
    right: Collection[int] = (),
    indent: str = "",
) -> list[str]:
    """Lines of a kubectl-like table: two spaces between columns, widths from the plain text."""
    all_rows = [[style.cell(h, "bold") for h in header], *rows]
    widths = [max(len(plain(row[at])) for row in all_rows) for at in range(len(header))]
    lines = []
    for row in all_rows:
        cells = []
        for at, cell in enumerate(row):
            pad = " " * (widths[at] - len(plain(cell)))
            cells.append(pad + shown(cell) if at in right else shown(cell) + pad)
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def join(*cells: Cell) -> Cell:
    """Cells side by side, one space apart, as one cell."""
    return (" ".join(plain(c) for c in cells), " ".join(shown(c) for c in cells))


def plain(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


def shown(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[1]


def dump(data: Any, fmt: str, *, compact: bool = False) -> str:
    """``data`` as JSON (one line when ``compact``) or YAML, ending in a newline."""
    if fmt == "json":
        if compact:
            return json.dumps(data, separators=(",", ":")) + "\n"
        return json.dumps(data, indent=2) + "\n"
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
