"""Backoff: doubling per failure up to a cap, and a bucket that spreads storms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipam.core import backoff


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.5), (1, 1.0), (2, 2.0), (5, 16.0), (7, 60.0), (1000, 60.0)]
)
def test_each_failure_doubles_the_delay_up_to_the_cap(failures: int, delay: float) -> None:
    assert backoff.exponential(failures, base=0.5, cap=60.0) == delay


def test_no_delay_exceeds_the_cap_not_even_the_first() -> None:
    assert backoff.exponential(0, base=5.0, cap=1.0) == 1.0


def test_a_negative_failure_count_is_read_as_none() -> None:
    assert backoff.exponential(-3, base=0.5, cap=60.0) == 0.5


@given(st.integers(min_value=0, max_value=10_000))
def test_the_delay_never_decreases_with_failures(failures: int) -> None:
    assert backoff.exponential(failures, base=0.1, cap=30.0) <= backoff.exponential(
        failures + 1, base=0.1, cap=30.0
    )


def test_the_bucket_lets_a_burst_through_then_spreads_the_rest() -> None:
    bucket = backoff.Bucket(rate=10.0, burst=3)
    waits = [bucket.reserve(now=0.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.2])


def test_the_bucket_refills_with_time() -> None:
    bucket = backoff.Bucket(rate=10.0, burst=2)
    for _ in range(2):
        bucket.reserve(now=0.0)
    assert bucket.reserve(now=1.0) == 0.0


def test_the_bucket_refills_by_the_time_since_its_last_reserve() -> None:
    bucket = backoff.Bucket(rate=10.0, burst=2)
    for _ in range(3):
        bucket.reserve(now=5.0)
    # 0.05 s later half a token came back: one token is still owed 0.1 s from there.
    assert bucket.reserve(now=5.05) == pytest.approx(0.15)


def test_a_fraction_of_a_token_left_over_means_no_wait() -> None:
    bucket = backoff.Bucket(rate=10.0, burst=2)
    bucket.reserve(now=0.0)
    bucket.reserve(now=0.0)
    assert bucket.reserve(now=0.15) == 0.0  # 1.5 tokens back, one taken, 0.5 left
