"""How long to wait before trying a key again: per-key exponential backoff and a shared bucket.

The same shape as controller-runtime's default rate limiter: each failure of a key doubles
its delay up to a cap, and a token bucket shared by every key spreads a storm of retries
(an API server that came back, say) over time instead of letting it land at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def exponential(failures: int, *, base: float, cap: float) -> float:
    """``base`` doubled for each earlier failure, at most ``cap`` (failures counts from 0)."""
    if failures >= 64:
        return cap  # past any cap already, and 2.0**failures would overflow further on
    return min(cap, base * float(2 ** max(failures, 0)))


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    last: float | None = None

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def reserve(self, now: float) -> float:
        """Take one token; return how long to wait until it is really there (0: now)."""
        if self.last is not None:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate
