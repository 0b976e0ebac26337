"""The interval set behaves like a plain set of integers, however its blocks split and join."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ipam.core import ranges
from tests.hypothesis_budget import examples

UNIVERSE = 80
values = st.integers(min_value=0, max_value=UNIVERSE - 1)
widths = st.integers(min_value=0, max_value=6)


class IntervalSetAgainstASet(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.intervals = ranges.IntervalSet(load=2)
        self.model: set[int] = set()

    @rule(lo=values, width=widths)
    def add(self, lo: int, width: int) -> None:
        self.intervals.add(lo, lo + width)
        self.model.update(range(lo, lo + width + 1))

    @rule(lo=values, width=widths)
    def remove(self, lo: int, width: int) -> None:
        self.intervals.remove(lo, lo + width)
        self.model.difference_update(range(lo, lo + width + 1))

    @rule(value=values)
    def next_free_is_the_first_integer_not_in_the_set(self, value: int) -> None:
        expected = value
        while expected in self.model:
            expected += 1
        assert self.intervals.first_free_from(value) == expected

    @rule(lo=values, hi=values)
    def count_in_counts_the_range(self, lo: int, hi: int) -> None:
        assert self.intervals.count_in(lo, hi) == len([v for v in self.model if lo <= v <= hi])

    @rule(lo=values, hi=values, n=st.integers(min_value=0, max_value=UNIVERSE))
    def nth_free_is_the_nth_integer_not_in_the_set(self, lo: int, hi: int, n: int) -> None:
        free = [v for v in range(lo, hi + 1) if v not in self.model]
        assert self.intervals.nth_free(lo, hi, n) == (free[n] if n < len(free) else None)

    @invariant()
    def same_members(self) -> None:
        assert self.intervals.count == len(self.model)
        assert [v for v in range(-1, UNIVERSE + 8) if self.intervals.contains(v)] == sorted(
            self.model
        )

    @invariant()
    def intervals_are_sorted_disjoint_and_apart(self) -> None:
        found = list(self.intervals)
        for (_, end), (start, _) in itertools.pairwise(found):
            assert end + 1 < start
        assert all(start <= end for start, end in found)

    @invariant()
    def blocks_are_consistent(self) -> None:
        blocks = self.intervals._starts
        assert all(blocks), "no empty block"
        assert self.intervals._heads == [block[0] for block in blocks]
        assert all(len(block) <= 2 * 2 for block in blocks)
        for starts, ends, size in zip(
            blocks, self.intervals._ends, self.intervals._sizes, strict=True
        ):
            assert size == sum(e - s + 1 for s, e in zip(starts, ends, strict=True))


IntervalSetAgainstASet.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=40, deadline=None
)
TestIntervalSetAgainstASet = IntervalSetAgainstASet.TestCase
