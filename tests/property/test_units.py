"""Human counts read back to the number they stand for, stay short, and keep their order."""

from __future__ import annotations

import re
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.core import units
from tests.hypothesis_budget import examples

# An independent reading of the three forms the renderer promises.
EXACT = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})*")
POWER = re.compile(r"2\^([0-9]+)(?: ([+-]) ([0-9]{1,3}(?:,[0-9]{3})*))?")
APPROX = re.compile(r"~2\^([0-9]+\.[0-9]{2})")
APPROX_ERROR = Fraction(35, 10_000)  # two decimals of log2: 2**0.005 - 1 < 0.35 %

counts = st.one_of(
    st.integers(min_value=0, max_value=2**40),
    st.integers(min_value=0, max_value=2**129),
    st.builds(
        lambda k, d: max(2**k + d, 0),
        st.integers(min_value=0, max_value=128),
        st.integers(min_value=-(10**8), max_value=10**8),
    ),
)


def read(text: str) -> tuple[Fraction, bool]:
    """(value, exact) of a rendered count; AssertionError on any other form."""
    if EXACT.fullmatch(text):
        return Fraction(int(text.replace(",", ""))), True
    power = POWER.fullmatch(text)
    if power:
        base = 2 ** int(power.group(1))
        offset = int((power.group(3) or "0").replace(",", ""))
        return Fraction(base + offset if power.group(2) != "-" else base - offset), True
    approx = APPROX.fullmatch(text)
    assert approx, f"unexpected form {text!r}"
    return Fraction(2 ** float(approx.group(1))), False


@settings(max_examples=examples(500), deadline=None)
@given(counts)
def test_a_count_reads_back_to_itself_or_within_the_stated_precision(n: int) -> None:
    value, exact = read(units.count(n))
    if exact:
        assert value == n
    else:
        assert abs(value - n) <= APPROX_ERROR * n


@settings(max_examples=examples(500), deadline=None)
@given(counts)
def test_a_count_is_short_ascii_and_never_a_long_run_of_digits(n: int) -> None:
    text = units.count(n)
    assert text.isascii()
    assert len(text) <= 20
    assert not re.search(r"[0-9]{4}", text), "digits come in groups of at most three"
    if n < units.EXACT_BELOW:
        assert "^" not in text


@settings(max_examples=examples(500), deadline=None)
@given(counts, counts)
def test_a_larger_count_never_reads_smaller_beyond_the_precision(a: int, b: int) -> None:
    low, high = sorted((a, b))
    low_value, _ = read(units.count(low))
    high_value, _ = read(units.count(high))
    assert high_value * (1 + APPROX_ERROR) >= low_value
