"""A set of integers kept as sorted, disjoint, non-adjacent closed intervals.

Memory is O(intervals), never O(integers): a /64 with one contiguous run of used addresses
costs one interval. The intervals live in blocks of at most ``2 * load`` (a two-level sorted
list in the manner of ``sortedcontainers``), so every operation costs a bisection over the
block heads, a bisection inside one block and a list edit of at most ``2 * load`` items:
O(log n) comparisons plus a bounded memmove, however fragmented the set becomes.
The counting helpers (:meth:`IntervalSet.count_in`, :meth:`IntervalSet.nth_free`) also add
one integer per block, O(n / load).

Invariant, for every pair of neighbouring intervals ``(s1, e1) < (s2, e2)``: ``e1 + 1 < s2``.
Because of it, the integer after any interval is free: the next free integer is one lookup.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

DEFAULT_LOAD = 256


class IntervalSet:
    """Sorted disjoint closed intervals of integers with O(log n) lookup and edits."""

    __slots__ = ("_count", "_ends", "_heads", "_load", "_sizes", "_starts")

    def __init__(self, intervals: Iterable[tuple[int, int]] = (), *, load: int = DEFAULT_LOAD):
        if load < 2:
            raise ValueError("load must be at least 2")
        self._load = load
        self._starts: list[list[int]] = []
        self._ends: list[list[int]] = []
        self._heads: list[int] = []
        self._sizes: list[int] = []
        self._count = 0
        for lo, hi in intervals:
            self.add(lo, hi)

    # -- reading ---------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """How many integers the set holds."""
        return self._count

    def __len__(self) -> int:
        """How many intervals the set holds."""
        return sum(len(block) for block in self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.contains(value)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self.intervals()

    def __repr__(self) -> str:
        return f"IntervalSet({list(self.intervals())!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return list(self.intervals()) == list(other.intervals())

    __hash__ = None  # type: ignore[assignment]

    def intervals(self, start_at: int | None = None) -> Iterator[tuple[int, int]]:
        """The intervals in order; with ``start_at``, only those ending at or after it."""
        block, index = 0, 0
        if start_at is not None:
            block, index = self._locate(start_at)
            if block < 0:
                block, index = 0, 0
            elif self._ends[block][index] < start_at:
                block, index = self._after(block, index)
        while block < len(self._starts):
            starts, ends = self._starts[block], self._ends[block]
            for position in range(index, len(starts)):
                yield starts[position], ends[position]
            block, index = block + 1, 0

    def contains(self, value: int) -> bool:
        """Whether ``value`` is in the set."""
        block, index = self._locate(value)
        return block >= 0 and self._ends[block][index] >= value

    def interval_of(self, value: int) -> tuple[int, int] | None:
        """The interval holding ``value``, or None."""
        block, index = self._locate(value)
        if block >= 0 and self._ends[block][index] >= value:
            return self._starts[block][index], self._ends[block][index]
        return None

    def first_free_from(self, value: int) -> int:
        """The smallest integer ``>= value`` that is not in the set."""
        block, index = self._locate(value)
        if block >= 0 and self._ends[block][index] >= value:
            return self._ends[block][index] + 1
        return value

    def count_in(self, lo: int, hi: int) -> int:
        """How many integers of the closed range ``lo..hi`` are in the set."""
        if hi < lo:
            return 0
        return self._covered_up_to(hi) - self._covered_up_to(lo - 1)

    def nth_free(self, lo: int, hi: int, n: int) -> int | None:
        """The ``n``-th (from 0) integer of ``lo..hi`` that is not in the set, or None."""
        if n < 0 or hi < lo:
            return None
        position, remaining = lo, n
        block, index = self._locate(lo)
        if block < 0:
            block, index = 0, 0
        while block < len(self._starts) and position <= hi:
            starts, ends = self._starts[block], self._ends[block]
            if index == 0 and position < starts[0] and ends[-1] < hi:
                # Skip the whole block when its free integers do not reach ``remaining``.
                span_free = (ends[-1] + 1 - position) - self._sizes[block]
                if span_free <= remaining:
                    remaining -= span_free
                    position = ends[-1] + 1
                    block += 1
                    continue
            for at in range(index, len(starts)):
                start, end = starts[at], ends[at]
                if start > position:
                    if remaining < start - position or start > hi:
                        return self._within(position + remaining, hi)
                    remaining -= start - position
                position = max(position, end + 1)
            block, index = block + 1, 0
        return self._within(position + remaining, hi)

    @staticmethod
    def _within(value: int, hi: int) -> int | None:
        return value if value <= hi else None

    # -- editing ---------------------------------------------------------------------------

    def add(self, lo: int, hi: int | None = None) -> None:
        """Add the closed range ``lo..hi`` (a single integer when ``hi`` is None)."""
        hi = lo if hi is None else hi
        if hi < lo:
            return
        block, index = self._locate(lo - 1)
        if block < 0:
            block, index = 0, 0
        elif self._ends[block][index] < lo - 1:
            block, index = self._after(block, index)
        new_lo, new_hi, merged = lo, hi, 0
        while block < len(self._starts) and self._starts[block][index] <= hi + 1:
            start, end = self._starts[block][index], self._ends[block][index]
            new_lo, new_hi = min(new_lo, start), max(new_hi, end)
            if merged == 0:
                merged = 1
                self._set(block, index, new_lo, new_hi)
                block, index = self._after(block, index)
            else:
                # Fold this neighbour into the interval just before it.
                block, index = self._delete(block, index)
                merged += 1
                self._set_previous(block, index, new_lo, new_hi)
        if merged == 0:
            self._insert(block, index, lo, hi)

    def remove(self, lo: int, hi: int | None = None) -> None:
        """Remove the closed range ``lo..hi`` (a single integer when ``hi`` is None)."""
        hi = lo if hi is None else hi
        if hi < lo:
            return
        block, index = self._locate(lo)
        if block < 0:
            block, index = 0, 0
        elif self._ends[block][index] < lo:
            block, index = self._after(block, index)
        keep: list[tuple[int, int]] = []
        while block < len(self._starts) and self._starts[block][index] <= hi:
            start, end = self._starts[block][index], self._ends[block][index]
            if start < lo:
                keep.append((start, lo - 1))
            if end > hi:
                keep.append((hi + 1, end))
            block, index = self._delete(block, index)
        for start, end in reversed(keep):
            block, index = self._insert(block, index, start, end)

    def copy(self) -> IntervalSet:
        """An independent copy."""
        twin = IntervalSet(load=self._load)
        twin._starts = [list(block) for block in self._starts]
        twin._ends = [list(block) for block in self._ends]
        twin._heads = list(self._heads)
        twin._sizes = list(self._sizes)
        twin._count = self._count
        return twin

    # -- block bookkeeping -----------------------------------------------------------------

    def _locate(self, value: int) -> tuple[int, int]:
        """Block and index of the last interval starting at or before ``value``; (-1, -1)."""
        block = bisect_right(self._heads, value) - 1
        if block < 0:
            return -1, -1
        return block, bisect_right(self._starts[block], value) - 1

    def _after(self, block: int, index: int) -> tuple[int, int]:
        """The position following ``(block, index)``; ``(len(blocks), 0)`` past the end."""
        if index + 1 < len(self._starts[block]):
            return block, index + 1
        return block + 1, 0

    def _covered_up_to(self, value: int) -> int:
        block, index = self._locate(value)
        if block < 0:
            return 0
        starts, ends = self._starts[block], self._ends[block]
        total = sum(self._sizes[:block])
        total += sum(ends[at] - starts[at] + 1 for at in range(index))
        return total + min(ends[index], value) - starts[index] + 1

    def _set(self, block: int, index: int, lo: int, hi: int) -> None:
        starts, ends = self._starts[block], self._ends[block]
        delta = (hi - lo) - (ends[index] - starts[index])
        starts[index], ends[index] = lo, hi
        self._sizes[block] += delta
        self._count += delta
        if index == 0:
            self._heads[block] = lo

    def _set_previous(self, block: int, index: int, lo: int, hi: int) -> None:
        """Set the interval just before position ``(block, index)``."""
        if index > 0:
            self._set(block, index - 1, lo, hi)
        else:
            self._set(block - 1, len(self._starts[block - 1]) - 1, lo, hi)

    def _insert(self, block: int, index: int, lo: int, hi: int) -> tuple[int, int]:
        """Insert before position ``(block, index)``; return the position of the new interval."""
        size = hi - lo + 1
        self._count += size
        if not self._starts:
            self._starts.append([lo])
            self._ends.append([hi])
            self._heads.append(lo)
            self._sizes.append(size)
            return 0, 0
        if block == len(self._starts):
            block, index = block - 1, len(self._starts[block - 1])
        self._starts[block].insert(index, lo)
        self._ends[block].insert(index, hi)
        self._sizes[block] += size
        if index == 0:
            self._heads[block] = lo
        if len(self._starts[block]) > 2 * self._load:
            self._split(block)
            if index >= self._load:
                return block + 1, index - self._load
        return block, index

    def _delete(self, block: int, index: int) -> tuple[int, int]:
        """Delete the interval at ``(block, index)``; return the position of its successor."""
        starts, ends = self._starts[block], self._ends[block]
        size = ends[index] - starts[index] + 1
        del starts[index], ends[index]
        self._sizes[block] -= size
        self._count -= size
        if not starts:
            del self._starts[block], self._ends[block], self._heads[block], self._sizes[block]
            return block, 0
        if index == 0:
            self._heads[block] = starts[0]
        if len(starts) < self._load // 2 and block + 1 < len(self._starts):
            self._join(block)
        if index < len(self._starts[block]):
            return block, index
        return block + 1, 0

    def _split(self, block: int) -> None:
        starts, ends = self._starts[block], self._ends[block]
        tail_starts, tail_ends = starts[self._load :], ends[self._load :]
        del starts[self._load :], ends[self._load :]
        tail_size = sum(end - start + 1 for start, end in zip(tail_starts, tail_ends, strict=True))
        self._sizes[block] -= tail_size
        self._starts.insert(block + 1, tail_starts)
        self._ends.insert(block + 1, tail_ends)
        self._heads.insert(block + 1, tail_starts[0])
        self._sizes.insert(block + 1, tail_size)

    def _join(self, block: int) -> None:
        """Append block ``block + 1`` to block ``block`` (then split again if too big)."""
        self._starts[block].extend(self._starts[block + 1])
        self._ends[block].extend(self._ends[block + 1])
        self._sizes[block] += self._sizes[block + 1]
        del self._starts[block + 1], self._ends[block + 1]
        del self._heads[block + 1], self._sizes[block + 1]
        if len(self._starts[block]) > 2 * self._load:
            self._split(block)
