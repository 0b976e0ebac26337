"""The interval set: merged intervals, O(log n) answers, and blocks that stay balanced."""

from __future__ import annotations

import random

import pytest

from ipam.core import ranges


def build(*intervals: tuple[int, int], load: int = ranges.DEFAULT_LOAD) -> ranges.IntervalSet:
    return ranges.IntervalSet(intervals, load=load)


@pytest.mark.parametrize(
    ("given", "added", "expected"),
    [
        pytest.param([], (5, 5), [(5, 5)], id="into-empty"),
        pytest.param([(1, 3)], (4, 4), [(1, 4)], id="adjacent-after-merges"),
        pytest.param([(5, 7)], (4, 4), [(4, 7)], id="adjacent-before-merges"),
        pytest.param([(1, 3), (5, 7)], (4, 4), [(1, 7)], id="gap-filled-joins-both"),
        pytest.param([(1, 3), (10, 12)], (6, 6), [(1, 3), (6, 6), (10, 12)], id="apart-stays"),
        pytest.param([(1, 3), (5, 7), (9, 9)], (0, 20), [(0, 20)], id="swallows-several"),
        pytest.param([(1, 10)], (3, 4), [(1, 10)], id="inside-changes-nothing"),
        pytest.param([(1, 2)], (5, 4), [(1, 2)], id="empty-range-ignored"),
    ],
)
def test_add_keeps_intervals_merged(
    given: list[tuple[int, int]], added: tuple[int, int], expected: list[tuple[int, int]]
) -> None:
    intervals = build(*given)
    intervals.add(*added)
    assert list(intervals) == expected
    assert intervals.count == sum(end - start + 1 for start, end in expected)


@pytest.mark.parametrize(
    ("given", "removed", "expected"),
    [
        pytest.param([(1, 10)], (5, 5), [(1, 4), (6, 10)], id="splits-in-two"),
        pytest.param([(1, 10)], (1, 1), [(2, 10)], id="trims-start"),
        pytest.param([(1, 10)], (10, 12), [(1, 9)], id="trims-end"),
        pytest.param([(1, 3), (5, 7), (9, 11)], (2, 10), [(1, 1), (11, 11)], id="across-several"),
        pytest.param([(1, 3)], (5, 6), [(1, 3)], id="outside-changes-nothing"),
        pytest.param([(1, 3)], (1, 3), [], id="whole-interval"),
        pytest.param([(5, 10)], (0, 7), [(8, 10)], id="from-below-the-first-interval"),
        pytest.param([(5, 6), (9, 10)], (0, 9), [(10, 10)], id="from-below-across-several"),
    ],
)
def test_remove_cuts_intervals(
    given: list[tuple[int, int]], removed: tuple[int, int], expected: list[tuple[int, int]]
) -> None:
    intervals = build(*given)
    intervals.remove(*removed)
    assert list(intervals) == expected
    assert intervals.count == sum(end - start + 1 for start, end in expected)


@pytest.mark.parametrize(
    ("value", "inside", "first_free"),
    [
        pytest.param(0, False, 0, id="below-everything"),
        pytest.param(1, True, 4, id="first-of-interval"),
        pytest.param(3, True, 4, id="last-of-interval"),
        pytest.param(4, False, 4, id="in-gap"),
        pytest.param(6, True, 9, id="inside-second"),
        pytest.param(100, False, 100, id="above-everything"),
    ],
)
def test_membership_and_next_free_are_single_lookups(
    value: int, inside: bool, first_free: int
) -> None:
    intervals = build((1, 3), (5, 8))
    assert intervals.contains(value) is inside
    assert (value in intervals) is inside
    assert intervals.first_free_from(value) == first_free


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        pytest.param(0, 100, 7, id="all"),
        pytest.param(2, 6, 4, id="partial-on-both-sides"),
        pytest.param(4, 4, 0, id="gap"),
        pytest.param(9, 3, 0, id="empty-range"),
    ],
)
def test_count_in_counts_members_of_a_range(lo: int, hi: int, expected: int) -> None:
    assert build((1, 3), (5, 8)).count_in(lo, hi) == expected


@pytest.mark.parametrize(
    ("lo", "hi", "n", "expected"),
    [
        pytest.param(0, 20, 0, 0, id="first-free-below"),
        pytest.param(1, 20, 0, 4, id="first-free-after-interval"),
        pytest.param(1, 20, 1, 9, id="second-free-skips-interval"),
        pytest.param(1, 20, 5, 13, id="beyond-the-last-interval"),
        pytest.param(1, 8, 1, None, id="only-one-free-in-range"),
        pytest.param(5, 8, 0, None, id="range-full"),
        pytest.param(0, 20, -1, None, id="negative-index"),
    ],
)
def test_nth_free_picks_among_free_integers(lo: int, hi: int, n: int, expected: int | None) -> None:
    assert build((1, 3), (5, 8)).nth_free(lo, hi, n) == expected


def test_huge_ranges_cost_one_interval() -> None:
    intervals = build((0, 2**64 - 1))
    assert len(intervals) == 1
    assert intervals.count == 2**64
    assert intervals.first_free_from(12345) == 2**64


def test_intervals_can_start_at_a_value() -> None:
    intervals = build((1, 3), (5, 8), (10, 12))
    assert list(intervals.intervals(start_at=6)) == [(5, 8), (10, 12)]
    assert list(intervals.intervals(start_at=9)) == [(10, 12)]
    assert list(intervals.intervals(start_at=0)) == [(1, 3), (5, 8), (10, 12)]


def test_copy_is_independent() -> None:
    original = build((1, 3))
    twin = original.copy()
    twin.add(10)
    assert list(original) == [(1, 3)]
    assert original != twin


def test_small_loads_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^load must be at least 2$"):
        ranges.IntervalSet(load=1)


def random_set(
    rng: random.Random, load: int, *, steps: int, universe: int, width: int, adding: float
) -> tuple[ranges.IntervalSet, set[int]]:
    """An interval set of ``load`` built by random adds and removes, and the same as a plain set."""
    intervals = ranges.IntervalSet(load=load)
    model: set[int] = set()
    for _ in range(steps):
        lo = rng.randrange(universe)
        hi = lo + rng.randrange(width)
        if rng.random() < adding:
            intervals.add(lo, hi)
            model.update(range(lo, hi + 1))
        else:
            intervals.remove(lo, hi)
            model.difference_update(range(lo, hi + 1))
    return intervals, model


@pytest.mark.parametrize("load", [2, 3, 8])
def test_many_blocks_answer_like_a_plain_set(load: int) -> None:
    intervals, model = random_set(
        random.Random(load), load, steps=3000, universe=400, width=4, adding=0.6
    )
    assert intervals.count == len(model)
    assert [v for v in range(-2, 410) if intervals.contains(v)] == sorted(model)
    free = [v for v in range(0, 410) if v not in model]
    assert [intervals.nth_free(0, 409, n) for n in range(len(free))] == free
    assert intervals.count_in(50, 250) == len([v for v in model if 50 <= v <= 250])


def test_filling_every_other_integer_then_the_holes_leaves_one_interval() -> None:
    intervals = ranges.IntervalSet(load=4)
    for value in range(0, 200, 2):
        intervals.add(value)
    assert len(intervals) == 100
    for value in range(1, 200, 2):
        intervals.add(value)
    assert list(intervals) == [(0, 199)]


@pytest.mark.parametrize(
    ("value", "interval"),
    [(0, None), (1, (1, 3)), (2, (1, 3)), (3, (1, 3)), (4, None), (9, (9, 9)), (10, None)],
)
def test_the_interval_of_a_value_is_the_one_holding_it(
    value: int, interval: tuple[int, int] | None
) -> None:
    assert build((1, 3), (9, 9)).interval_of(value) == interval


def test_an_interval_set_reads_as_its_intervals() -> None:
    assert repr(build((1, 3), (9, 9))) == "IntervalSet([(1, 3), (9, 9)])"


@pytest.mark.parametrize("load", [2, 3])
def test_every_query_from_anywhere_answers_like_a_plain_set(load: int) -> None:
    intervals, model = random_set(
        random.Random(100 + load), load, steps=400, universe=120, width=5, adding=0.65
    )
    assert len(intervals._starts) > 3, "the set spans several blocks"
    assert bool(intervals) is bool(model)
    pieces = list(intervals)
    for lo in range(-1, 130, 3):
        assert list(intervals.intervals(start_at=lo)) == [p for p in pieces if p[1] >= lo]
        for hi in range(lo - 1, 130, 7):
            free = [v for v in range(lo, hi + 1) if v not in model]
            assert intervals.count_in(lo, hi) == len([v for v in model if lo <= v <= hi])
            for n in range(0, len(free) + 2):
                assert intervals.nth_free(lo, hi, n) == (free[n] if n < len(free) else None)


def test_an_interval_set_equals_only_another_with_the_same_members() -> None:
    assert build((1, 3)) == build((1, 2), (3, 3))
    assert build((1, 3)) != build((1, 4))
    assert build((1, 3)) != [(1, 3)]
    assert not ranges.IntervalSet()
    assert build((5, 5))


@pytest.mark.parametrize("value", [0, 1, 2, 3, 4, 5, 8, 9])
def test_a_range_of_one_integer_counts_and_frees_that_integer(value: int) -> None:
    intervals = build((1, 3), (5, 8))
    member = value in {1, 2, 3, 5, 6, 7, 8}
    assert intervals.count_in(value, value) == (1 if member else 0)
    assert intervals.nth_free(value, value, 0) == (None if member else value)
    assert intervals.nth_free(value, value, 1) is None


@pytest.mark.parametrize("load", [4, 5, 8])
def test_blocks_stay_within_twice_the_load_while_they_split_and_join(load: int) -> None:
    # The module promises blocks of at most 2 * load intervals: a small block that is
    # joined to a full neighbour must be split again.
    rng = random.Random(load)
    intervals = ranges.IntervalSet(load=load)
    model: set[int] = set()
    for step in range(4000):
        lo = rng.randrange(600)
        hi = lo + rng.randrange(3)
        if rng.random() < (0.7 if step < 1500 else 0.4):
            intervals.add(lo, hi)
            model.update(range(lo, hi + 1))
        else:
            intervals.remove(lo, hi)
            model.difference_update(range(lo, hi + 1))
        assert all(0 < len(block) <= 2 * load for block in intervals._starts), step
    assert [v for v in range(-1, 605) if v in intervals] == sorted(model)


def test_a_small_block_joined_to_a_full_neighbour_is_split_again() -> None:
    intervals = ranges.IntervalSet(load=4)
    for value in range(0, 1600, 100):
        intervals.add(value)
    for value in (410, 420, 430, 440):
        intervals.add(value)
    assert [len(block) for block in intervals._starts] == [4, 8, 8]
    for value in (0, 100, 200):
        intervals.remove(value)
    # One interval left in the first block: it joins its neighbour of 8, and 9 is too many.
    assert all(len(block) <= 8 for block in intervals._starts)
    assert list(intervals)[:3] == [(300, 300), (400, 400), (410, 410)]
