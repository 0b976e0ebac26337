"""How full a pool is, in exact arithmetic: its share used, the cells of a bar, the warning line.

Shares are fractions of integers, never floats, so a /64 with three addresses used is not
"0 %" and is not "full" either: the percentage is rounded down (what a warning threshold
compares against), shown as ``<1%`` while something but less than one percent is used, and
the bar shows one cell for any use and leaves one cell empty until the pool is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Usage:
    """``used`` of ``total`` addresses (``used`` counts held and pre-allocated ones)."""

    total: int
    used: int

    @property
    def free(self) -> int:
        return max(self.total - self.used, 0)

    @property
    def share(self) -> Fraction:
        """The part used, 0 for a pool without addresses (and never above 1)."""
        if self.total <= 0:
            return Fraction(0)
        return min(Fraction(self.used, self.total), Fraction(1))

    @property
    def percent(self) -> int:
        """The percentage used, rounded down: 100 only when the pool is full."""
        return int(self.share * 100)

    def percent_text(self) -> str:
        """``0%`` only when nothing is used, ``<1%`` when less than one percent is."""
        if self.total <= 0:
            return "-"
        if self.used > 0 and self.percent == 0:
            return "<1%"
        return f"{self.percent}%"

    def cells(self, width: int) -> int:
        """Filled cells of a ``width``-cell bar: 0 only if unused, ``width`` only if full."""
        if self.total <= 0 or self.used <= 0:
            return 0
        return max(int(self.share * width), 1)  # width exactly when the share is 1

    def reaches(self, threshold: Fraction) -> bool:
        """Whether the share used is at or above ``threshold`` percent (a pool with addresses)."""
        return self.total > 0 and self.share * 100 >= threshold
