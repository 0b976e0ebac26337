"""A pool's usage in exact arithmetic: never 0 % when used, never full until it is."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ipam.core.usage import Usage


@pytest.mark.parametrize(
    ("total", "used", "text"),
    [
        (10, 0, "0%"),
        (10, 2, "20%"),
        (3, 2, "66%"),
        (1000, 999, "99%"),
        (10, 10, "100%"),
        (2**64, 3, "<1%"),
        (0, 0, "-"),
        (1, 0, "0%"),
        (1, 1, "100%"),
        (1000, 1, "<1%"),
    ],
)
def test_the_percentage_rounds_down_and_marks_a_sliver(total: int, used: int, text: str) -> None:
    assert Usage(total, used).percent_text() == text


@pytest.mark.parametrize(
    ("total", "used", "cells"),
    [
        (10, 0, 0),
        (10, 5, 10),
        (10, 9, 18),
        (2**64, 1, 1),
        (2**64, 2**64 - 1, 19),
        (10, 10, 20),
        (0, 0, 0),
        (0, 1, 0),
        (1, 1, 20),
    ],
)
def test_a_bar_is_empty_only_if_unused_and_full_only_if_full(
    total: int, used: int, cells: int
) -> None:
    assert Usage(total, used).cells(20) == cells


def test_free_is_never_negative_and_the_share_never_above_one() -> None:
    over = Usage(total=4, used=6)  # pre-allocations beyond a shrunk pool
    assert over.free == 0
    assert over.share == 1
    assert over.percent_text() == "100%"


def test_the_warning_compares_exactly_at_the_threshold() -> None:
    assert Usage(10, 8).reaches(Fraction(80))
    assert not Usage(1000, 799).reaches(Fraction(80))
    assert Usage(2**64, 2**64 // 5 * 4 + 1).reaches(Fraction(80))
    assert not Usage(2**64, 2**64 // 5 * 4 - 1).reaches(Fraction(80))
    assert not Usage(0, 0).reaches(Fraction(0))


def test_a_one_address_pool_in_use_reaches_any_threshold() -> None:
    assert Usage(total=1, used=1).reaches(Fraction(50))
    assert not Usage(total=1, used=0).reaches(Fraction(50))
