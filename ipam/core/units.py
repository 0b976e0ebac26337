"""Counts and ages as people read them: exact while short, against a power of two when huge.

A count below 2^32 (the size of anything IPv4) is written out exactly, with thousands
separators: ``16,777,214``. A larger count is written against the nearest power of two
when that is exact and short (``2^64``, ``2^64 - 3``, ``2^32 + 1,024``), and otherwise as an
approximate power of two with two decimals (``~2^61.58``, within 0.35 %). So an IPv6 /64
reads ``2^64``, never as a twenty-digit number. Everything is plain ASCII.
"""

from __future__ import annotations

import datetime
import math

EXACT_BELOW = 2**32
"""Counts below this are written digit for digit."""
OFFSET_BELOW = 10**7
"""``2^k + d`` and ``2^k - d`` are used while ``d`` is below this, else ``~2^x``."""


def count(n: int) -> str:
    """``n`` (a non-negative count) for people, exact unless it is huge and irregular."""
    if n < 0:
        raise ValueError(f"a count cannot be negative: {n}")
    if n < EXACT_BELOW:
        return f"{n:,}"
    below = n.bit_length() - 1  # 2^below <= n < 2^(below+1)
    for power in (below, below + 1):
        offset = n - 2**power
        if offset == 0:
            return f"2^{power}"
        if 0 < offset < OFFSET_BELOW:
            return f"2^{power} + {offset:,}"
        if 0 < -offset < OFFSET_BELOW:
            return f"2^{power} - {-offset:,}"
    return f"~2^{_log2(n):.2f}"


def _log2(n: int) -> float:
    """log2 of an arbitrarily large integer, without converting it to a float first."""
    shift = max(n.bit_length() - 53, 0)
    return math.log2(n >> shift) + shift


def age(since: str, now: datetime.datetime) -> str:
    """How long ago the RFC 3339 time ``since`` was: ``42s``, ``5m12s``, ``3h4m``, ``2d5h``.

    An unreadable time gives ``?``; a time in the future (clock skew) gives ``0s``.
    """
    try:
        start = datetime.datetime.fromisoformat(since)
    except ValueError:
        return "?"
    if start.tzinfo is None:
        start = start.replace(tzinfo=datetime.UTC)
    seconds = max(int((now - start).total_seconds()), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if seconds < 86400:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 30:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"
