"""Counts and ages for people: exact while short, powers of two for IPv6-sized pools."""

from __future__ import annotations

import datetime
import math

import pytest

from ipam.core import units

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (7, "7"),
        (1000, "1,000"),
        (16_777_214, "16,777,214"),
        (2**32 - 1, "4,294,967,295"),
        (2**32, "2^32"),
        (2**64, "2^64"),
        (2**64 - 3, "2^64 - 3"),
        (2**64 - 2, "2^64 - 2"),
        (2**128, "2^128"),
        (2**32 + 1024, "2^32 + 1,024"),
        (2**64 - 9_999_999, "2^64 - 9,999,999"),
        (2**64 + 9_999_999, "2^64 + 9,999,999"),
        (2**32 + 1, "2^32 + 1"),
        (2**64 - 1, "2^64 - 1"),
        (2**64 + 10_000_000, "~2^64.00"),
        (3 * 2**60, "~2^61.58"),
        (5_000_000_000, "~2^32.22"),
    ],
)
def test_a_count_reads_exactly_or_against_a_power_of_two(n: int, text: str) -> None:
    assert units.count(n) == text


def test_an_ipv6_64_is_two_to_the_64_not_twenty_digits() -> None:
    text = units.count(18446744073709551616)
    assert text == "2^64"
    assert "18446744073709551615" not in units.count(2**64 - 1)


def test_ten_million_away_from_a_power_of_two_is_approximate() -> None:
    assert units.count(2**64 - 10_000_000) == "~2^64.00"


@pytest.mark.parametrize("n", [1, 2, 3, 5, 2**40 + 7, 2**52 + 1])
def test_the_log2_of_a_count_that_fits_a_float_is_the_float_one(n: int) -> None:
    assert units._log2(n) == math.log2(n)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        units.count(-1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (312, "5m12s"),
        (3600, "1h"),
        (3 * 3600 + 4 * 60 + 59, "3h4m"),
        (86400, "1d"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (29 * 86400 + 3600, "29d1h"),
        (30 * 86400 + 5 * 3600, "30d"),
        (400 * 86400 + 3600, "400d"),
    ],
)
def test_an_age_reads_like_kubectl(seconds: int, text: str) -> None:
    since = (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert units.age(since, NOW) == text


def test_a_time_in_the_future_is_zero_seconds_old_and_garbage_is_unknown() -> None:
    assert units.age("2025-06-01T12:00:30Z", NOW) == "0s"
    assert units.age("yesterday", NOW) == "?"
    assert units.age("", NOW) == "?"


def test_a_time_without_a_zone_is_utc_and_one_with_an_offset_keeps_it() -> None:
    assert units.age("2025-06-01T11:59:00", NOW) == "1m"
    assert units.age("2025-06-01T13:59:00+02:00", NOW) == "1m"
    assert units.age("2025-06-01T11:59:00+00:00", NOW) == "1m"
