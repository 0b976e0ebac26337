"""The work queue: each key once, never twice at a time, fair across shards, backed off."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from ipam.handlers import scheduler, workqueue

T = TypeVar("T")


def run(test: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def test_a_key_added_many_times_before_a_worker_takes_it_is_served_once() -> None:
    async def scenario() -> list[str]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t")
        for key in ("a", "b", "a", "a", "b"):
            queue.add(key)
        got = [await queue.get(), await queue.get()]
        assert len(queue) == 0
        return got

    assert run(scenario) == ["a", "b"]


def test_a_key_added_while_processed_is_served_again_after_done_and_not_before() -> None:
    async def scenario() -> None:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t")
        queue.add("a")
        assert await queue.get() == "a"
        queue.add("a")
        queue.add("a")
        assert len(queue) == 0, "not queued while a worker has it"
        assert queue.pending("a")
        queue.done("a")
        assert len(queue) == 1
        assert await queue.get() == "a"
        queue.done("a")
        assert not queue.pending("a")

    run(scenario)


def test_shards_are_served_round_robin() -> None:
    async def scenario() -> list[str]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t", shard=lambda key: key[0])
        for n in range(100):
            queue.add(f"busy-{n}")
        queue.add("quiet")
        return [await queue.get() for _ in range(4)]

    got = run(scenario)
    assert got[:2] == ["busy-0", "quiet"], "the quiet shard's key is served second, not 101st"
    assert got[2:] == ["busy-1", "busy-2"]


def test_a_delayed_key_comes_after_those_added_now_and_the_earliest_delay_wins() -> None:
    async def scenario() -> list[str]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t")
        queue.add_after("late", 0.2)
        queue.add_after("late", 30)  # later than already pending: ignored
        queue.add("now")
        assert queue.delayed == 1
        got = [await queue.get()]
        queue.done("now")
        got.append(await queue.get())
        assert queue.delayed == 0
        return got

    assert run(scenario) == ["now", "late"]


def test_waiting_workers_are_woken_by_a_key_one_each() -> None:
    async def scenario() -> set[str]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t")
        workers = [asyncio.create_task(queue.get()) for _ in range(3)]
        await asyncio.sleep(0)
        queue.add("x")
        queue.add("y")
        done, pending = await asyncio.wait(workers, timeout=5, return_when=asyncio.ALL_COMPLETED)
        assert len(done) == 2
        assert len(pending) == 1
        queue.shutdown()
        with pytest.raises(workqueue.ShutDown):
            await pending.pop()
        return {task.result() for task in done}

    assert run(scenario) == {"x", "y"}


def test_retries_back_off_exponentially_per_key_and_forget_resets() -> None:
    now = [0.0]

    async def scenario() -> list[float]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue(
            "t",
            limits=workqueue.Limits(base=1.0, cap=5.0, rate=1000, burst=1000),
            clock=lambda: now[0],
        )
        delays = [queue.add_rate_limited("a") for _ in range(5)]
        assert queue.failures("a") == 5
        queue.forget("a")
        delays.append(queue.add_rate_limited("a"))
        assert queue.add_rate_limited("b") == 1.0, "another key has its own backoff"
        queue.shutdown()
        return delays

    assert run(scenario) == [1.0, 2.0, 4.0, 5.0, 5.0, 1.0]


def test_a_storm_of_retries_is_spread_by_the_shared_bucket() -> None:
    async def scenario() -> list[float]:
        queue: workqueue.WorkQueue[int] = workqueue.WorkQueue(
            "t", limits=workqueue.Limits(base=0.001, cap=1.0, rate=10, burst=2), clock=lambda: 0.0
        )
        delays = [queue.add_rate_limited(n) for n in range(4)]
        queue.shutdown()
        return delays

    assert run(scenario) == pytest.approx([0.001, 0.001, 0.1, 0.2])


def _lanes(urgent: set[str]) -> workqueue.WorkQueue[str]:
    """A queue sharded by a key's first letter whose urgent keys are those in ``urgent``."""
    return workqueue.WorkQueue("t", shard=lambda key: key[0], urgent=urgent.__contains__)


def test_an_urgent_key_added_after_many_routine_ones_is_served_first() -> None:
    async def scenario() -> list[str]:
        queue = _lanes({"b-new"})
        for n in range(1000):
            queue.add(f"a-{n}")
        queue.add("b-new")
        return [await queue.get() for _ in range(3)]

    assert run(scenario) == ["b-new", "a-0", "a-1"]


def test_urgent_keys_take_turns_across_shards_and_routine_ones_keep_their_order() -> None:
    async def scenario() -> list[str]:
        queue = _lanes({"a-1", "a-2", "b-1"})
        for key in ("a-0", "b-0", "a-1", "a-2", "b-1", "a-3"):
            queue.add(key)
        return [await queue.get() for _ in range(6)]

    assert run(scenario) == ["a-1", "b-1", "a-2", "a-0", "b-0", "a-3"]


def test_a_queued_routine_key_judged_urgent_again_moves_ahead_once() -> None:
    async def scenario() -> list[str]:
        urgent: set[str] = set()
        queue = _lanes(urgent)
        for key in ("a-0", "a-1", "a-2"):
            queue.add(key)
        urgent.add("a-2")  # its claim lost its address, say
        queue.add("a-2")
        urgent.discard("a-2")
        queue.add("a-2")  # an urgent key is not sent back
        assert len(queue) == 3
        got = [await queue.get() for _ in range(3)]
        assert len(queue) == 0
        return got

    assert run(scenario) == ["a-2", "a-0", "a-1"]


def test_a_key_added_while_processed_is_judged_again_when_it_is_queued_after_done() -> None:
    async def scenario() -> list[str]:
        urgent: set[str] = set()
        queue = _lanes(urgent)
        queue.add("a-0")
        assert await queue.get() == "a-0"
        queue.add("a-0")  # routine while a worker has it
        queue.add("b-0")
        urgent.add("a-0")
        queue.done("a-0")  # queued again now, and judged now: urgent
        got = [await queue.get()]
        assert queue.pending("b-0")
        queue.add("a-0")  # being processed: not queued twice
        got.append(await queue.get())
        assert len(queue) == 0
        return got

    assert run(scenario) == ["a-0", "b-0"]


def test_a_delayed_key_is_judged_when_it_is_due() -> None:
    async def scenario() -> list[str]:
        urgent: set[str] = set()
        queue = _lanes(urgent)
        queue.add_after("b-late", 0.05)
        urgent.add("b-late")
        for n in range(3):
            queue.add(f"a-{n}")
        await asyncio.sleep(0.2)
        return [await queue.get() for _ in range(4)]

    assert run(scenario) == ["b-late", "a-0", "a-1", "a-2"]


def test_a_worker_lets_the_loop_run_between_keys_that_never_wait() -> None:
    """Re-checks that find everything right make no call and never wait: a worker going
    through thousands of them must still let the rest of the controller run."""

    async def scenario() -> tuple[int, int]:
        queue: workqueue.WorkQueue[tuple[str, str]] = workqueue.WorkQueue("t")
        for n in range(200):
            queue.add(("ns", f"claim-{n}"))
        done = 0
        seen_at = -1
        finished = asyncio.Event()

        async def recheck(ctx: object, key: tuple[str, str]) -> None:
            nonlocal done
            done += 1
            if done == 200:
                finished.set()

        async def other() -> None:
            nonlocal seen_at
            seen_at = done

        worker = asyncio.create_task(scheduler._work(None, queue, recheck, "claim"))  # type: ignore[arg-type]
        waiting = asyncio.create_task(other())
        await finished.wait()
        queue.shutdown()
        await asyncio.gather(worker, waiting)
        return seen_at, done

    seen_at, done = run(scenario)
    assert done == 200
    assert 0 <= seen_at < 10, "the other task ran while the keys were being worked through"


BURST = 10_000
"""Keys of one burst: enough that each table of the queue grows past a quarter of a MB."""


def test_a_drained_queue_gives_back_the_room_its_burst_took() -> None:
    """Every table of the queue (queued, processing, added while processing, delayed,
    backed off) grows with a burst; drained, the queue holds no more than before it."""
    keys = [f"claim-{i}" for i in range(BURST)]
    fast = workqueue.Limits(base=0.001, cap=0.002, rate=1e9, burst=BURST)

    async def scenario() -> tuple[int, int, int]:
        queue: workqueue.WorkQueue[str] = workqueue.WorkQueue("t", limits=fast)
        queue.add("warm-up")  # the timer task and the lanes exist before counting
        queue.add_after("warm-up", 0.001)
        queue.done(await queue.get())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for key in keys:
                queue.add(key)
            taken = [await queue.get() for _ in keys]
            for key in taken:
                queue.add(key)  # added while processed: dirty, queued again by done()
            for key in taken:
                queue.add_rate_limited(key)
                queue.done(key)
            del taken
            busy = tracemalloc.get_traced_memory()[0]
            while len(queue) or queue.delayed:
                key = await queue.get()
                queue.forget(key)
                queue.done(key)
                await asyncio.sleep(0)
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        queue.shutdown()
        return before, busy, after

    before, busy, after = run(scenario)
    assert busy - before > 1_000_000, "the burst took room: the count can see it"
    # The interpreter keeps up to 2,000 freed tuples of each length for reuse (about 125 KiB
    # of the delay entries here); the queue's five emptied tables took 2 MB before.
    assert after - before < 256 * 1024
