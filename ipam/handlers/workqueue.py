"""The one scheduler: a de-duplicated queue of keys, served fairly, with per-key backoff.

Everything the controller does starts as a key on a queue of this kind: a watch event, a
retry after an error, a timer, a claim woken because an address was freed. The queue keeps
the promises controller-runtime's workqueue keeps:

- a key is queued at most once, however often it is added before a worker takes it;
- a key is never processed by two workers at once; added while being processed, it is
  processed again right after;
- :meth:`WorkQueue.add_after` delays a key (the earliest pending time wins), and
  :meth:`WorkQueue.add_rate_limited` delays it by its own exponential backoff, at least as
  much as a token bucket shared by every key allows.

Keys are served round-robin across *shards* (a namespace, a pool), so a thousand keys of one
busy shard never keep a key of another shard waiting behind them.

Keys are queued in one of two *lanes*: an optional ``urgent`` judge, asked each time a key
enters the queue (added, due after a delay, or added again while it was processed), puts
it in the urgent lane, whose keys are all served before any of the routine lane; within a
lane, shards take turns as above. A queued routine key judged urgent when it is added
again moves to the urgent lane; an urgent one stays there until a worker takes it. (The
controller's use: a claim that holds no address yet is served before the re-checks of
thousands of claims that already hold theirs, which a restart lists all at once.)
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ipam.core import backoff

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down: no more keys will come."""


def give_back_room(table: dict[Any, Any] | set[Any]) -> None:
    """Free the room of an emptied dict or set.

    A dict or set keeps the table it grew into when its entries go, until something else
    resizes it: a queue drained after a burst of 10,000 claims kept 0.6 MB in one empty
    table for good. Once empty, ``clear()`` gives it back, at the cost of a length check.
    """
    if not table:
        table.clear()


@dataclass(frozen=True)
class Limits:
    """How retries are spaced."""

    base: float = 0.5
    """Seconds before the first retry of a key."""
    cap: float = 60.0
    """Longest delay between two retries of one key."""
    rate: float = 50.0
    """Retries per second, over all keys, once ``burst`` is spent."""
    burst: int = 500


class _Lane(Generic[K]):
    """Queued keys of one lane: a queue per shard, and the shards that have keys, in turn."""

    __slots__ = ("ring", "shards")

    def __init__(self) -> None:
        self.shards: dict[Hashable, deque[K]] = {}
        self.ring: deque[Hashable] = deque()

    def append(self, shard: Hashable, key: K) -> None:
        queue = self.shards.get(shard)
        if queue is None:
            queue = self.shards[shard] = deque()
            self.ring.append(shard)
        queue.append(key)

    def pop(self) -> K:
        """The first key of the shard whose turn it is (the lane must not be empty)."""
        shard = self.ring.popleft()
        queue = self.shards[shard]
        key = queue.popleft()
        if queue:
            self.ring.append(shard)
        else:
            del self.shards[shard]
            give_back_room(self.shards)
        return key

    def remove(self, shard: Hashable, key: K) -> None:
        """Take ``key`` out (it must be queued here): linear in its shard's keys."""
        queue = self.shards[shard]
        queue.remove(key)
        if not queue:
            del self.shards[shard]
            give_back_room(self.shards)
            self.ring.remove(shard)


class WorkQueue(Generic[K]):
    """Keys to process, each at most once at a time, urgent ones first, fair across shards."""

    def __init__(
        self,
        name: str,
        *,
        shard: Callable[[K], Hashable] = lambda key: None,
        urgent: Callable[[K], bool] | None = None,
        limits: Limits = Limits(),
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self._shard_of = shard
        self._urgent_of = urgent
        self._limits = limits
        self._clock = clock
        self._urgent: _Lane[K] = _Lane()
        self._routine: _Lane[K] = _Lane()
        self._queued: dict[K, _Lane[K]] = {}
        """Every queued key and the lane it waits in."""
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._failures: dict[K, int] = {}
        self._bucket = backoff.Bucket(limits.rate, limits.burst)
        self._later: list[tuple[float, int, K]] = []
        self._later_at: dict[K, float] = {}
        self._sequence = itertools.count()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._wake_timer = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._closed = False

    # -- adding ---------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` now (nothing happens if it is queued already)."""
        if self._closed:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        urgent = self._urgent_of is not None and self._urgent_of(key)
        lane = self._queued.get(key)
        if lane is not None:
            if urgent and lane is self._routine:
                shard = self._shard_of(key)
                self._routine.remove(shard, key)
                self._urgent.append(shard, key)
                self._queued[key] = self._urgent
            return
        lane = self._urgent if urgent else self._routine
        self._queued[key] = lane
        lane.append(self._shard_of(key), key)
        self._notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` in ``delay`` seconds (or sooner, if it is due sooner already)."""
        if self._closed:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self._now() + delay
        pending = self._later_at.get(key)
        if pending is not None and pending <= due:
            return
        self._later_at[key] = due
        heapq.heappush(self._later, (due, next(self._sequence), key))
        self._ensure_timer()
        self._wake_timer.set()

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff; returns the delay chosen."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = max(
            backoff.exponential(failures, base=self._limits.base, cap=self._limits.cap),
            self._bucket.reserve(self._now()),
        )
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (after it was processed with success)."""
        if self._failures.pop(key, None) is not None:
            give_back_room(self._failures)

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    # -- taking ---------------------------------------------------------------------------

    async def get(self) -> K:
        """The next key (urgent ones first, round-robin over shards within a lane); waits for
        one. Call :meth:`done` after."""
        while not self._queued:
            if self._closed:
                raise ShutDown(self.name)
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled():
                    self._notify()  # woken but cancelled: pass the key on to another getter
                raise
        key = (self._urgent if self._urgent.ring else self._routine).pop()
        del self._queued[key]
        give_back_room(self._queued)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """``key`` was processed; if it was added meanwhile, it is queued again now."""
        self._processing.discard(key)
        give_back_room(self._processing)
        if key in self._dirty:
            self._dirty.discard(key)
            give_back_room(self._dirty)
            self.add(key)

    # -- state ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys queued now (not those processed or delayed)."""
        return len(self._queued)

    @property
    def delayed(self) -> int:
        return len(self._later_at)

    def pending(self, key: K) -> bool:
        """Whether ``key`` is queued, delayed or being processed."""
        return key in self._queued or key in self._later_at or key in self._processing

    def shutdown(self) -> None:
        """Stop: workers waiting in :meth:`get` get :class:`ShutDown`; delayed keys are dropped."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._later.clear()
        self._later_at.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    # -- internals ------------------------------------------------------------------------

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _notify(self) -> None:
        """Wake one waiting getter (one key, one worker: no herd)."""
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._run_timer(), name=f"{self.name}-timer"
            )

    async def _run_timer(self) -> None:
        while not self._closed:
            self._wake_timer.clear()
            now = self._now()
            while self._later and self._later[0][0] <= now:
                due, _, key = heapq.heappop(self._later)
                if self._later_at.get(key) == due:
                    del self._later_at[key]
                    give_back_room(self._later_at)
                    self.add(key)
            if not self._later:
                await self._wake_timer.wait()
                continue
            timeout = max(0.0, self._later[0][0] - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_timer.wait(), timeout)
