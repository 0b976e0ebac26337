"""Rendering for people: aligned columns from plain text, colour only on a terminal."""

from __future__ import annotations

import io
import re

import pytest

from ipam.cli import output, session
from ipam.handlers import run

PLAIN = output.Style(color=False, blocks=True, terminal=False)
COLOUR = output.Style(color=True, blocks=True, terminal=True)


class Terminal(io.StringIO):
    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:
        return self._encoding

    def isatty(self) -> bool:
        return True


def rows(style: output.Style) -> list[list[output.Cell]]:
    return [
        ["a", style.cell("Ready", "green"), "10"],
        ["longer", style.cell("PoolExhausted", "red"), "2^64"],
    ]


def test_columns_are_aligned_on_plain_text_even_when_cells_are_coloured() -> None:
    plain = output.table(["POOL", "STATUS", "TOTAL"], rows(PLAIN), PLAIN, right={2})
    assert plain == [
        "POOL    STATUS         TOTAL",
        "a       Ready             10",
        "longer  PoolExhausted   2^64",
    ]
    shown = output.table(["POOL", "STATUS", "TOTAL"], rows(COLOUR), COLOUR, right={2})
    assert [strip(line) for line in shown] == plain
    assert "\x1b[31mPoolExhausted\x1b[0m" in shown[2]


def strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_a_bar_falls_back_to_ascii_where_the_encoding_has_no_blocks() -> None:
    ascii_style = output.Style.of(Terminal("ascii"))
    assert output.plain(ascii_style.bar(3, 5)) == "###.."
    assert output.plain(PLAIN.bar(3, 5)) == "███░░"


def test_colour_is_off_when_not_a_terminal_or_when_no_color_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.Style.of(Terminal("utf-8")).color
    assert not output.Style.of(io.StringIO()).color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.Style.of(Terminal("utf-8")).color


def test_data_is_exact_json_or_yaml() -> None:
    data = {"total": 2**64, "name": "wide"}
    assert (
        output.dump(data, "json", compact=True) == '{"total":18446744073709551616,"name":"wide"}\n'
    )
    assert output.dump(data, "yaml") == "total: 18446744073709551616\nname: wide\n"


def test_the_inspection_commands_share_the_controllers_exit_codes() -> None:
    assert (session.EXIT_UNREACHABLE, session.EXIT_MISCONFIGURED) == (
        run.EXIT_UNREACHABLE,
        run.EXIT_MISCONFIGURED,
    )
