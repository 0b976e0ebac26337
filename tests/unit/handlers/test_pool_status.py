"""A pool's status as the in-memory API shows it after the controller settles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ipam.handlers import pools
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def test_a_pools_free_count_follows_what_an_overlapping_pool_takes() -> None:
    """``free`` is what allocation can still hand out (``used`` the rest of ``total``): an
    address the overlapping pool takes is no longer free here, though nothing of this pool
    changed."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(
            driver.POOL, driver.pool_body("a", pools=[{"start": "10.0.0.1", "end": "10.0.0.4"}])
        )
        api.put(
            driver.POOL, driver.pool_body("b", pools=[{"start": "10.0.0.3", "end": "10.0.0.6"}])
        )
        api.put(driver.IPCLAIM, driver.metal3_claim("in-a", pool="a"))
        await driver.settle(ctx, api)
        pool_a = api.find(driver.POOL, "ns", "a")
        assert pool_a is not None
        assert (pool_a["status"]["used"], pool_a["status"]["free"]) == (1, 3)
        api.put(driver.IPCLAIM, driver.metal3_claim("in-b-0", pool="b"))
        api.put(driver.IPCLAIM, driver.metal3_claim("in-b-1", pool="b"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    pool_b = api.find(driver.POOL, "ns", "b")
    assert pool_b is not None
    assert [pool_b["status"]["used"], pool_b["status"]["free"]] == [2, 2]
    pool_a = api.find(driver.POOL, "ns", "a")
    assert pool_a is not None
    assert [pool_a["status"]["used"], pool_a["status"]["free"]] == [3, 1], (
        "10.0.0.3 and 10.0.0.4 are held through pool b: not free, so counted as used"
    )


def test_an_address_kept_by_someone_elses_finalizer_stays_in_the_indexes() -> None:
    """Its claim went and our finalizer came off, but another controller's finalizer keeps
    the IPAddress: the address is still taken, so ``indexes`` and ``used`` keep it until the
    object is gone."""

    async def scenario() -> tuple[FakeApi, dict[str, Any]]:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("plain"))
        await driver.settle(ctx, api)
        key = (driver.M3_ADDRESS.group, driver.M3_ADDRESS.plural, "ns", "p-10-0-0-1")
        api.objects[key]["metadata"]["finalizers"].append("example.com/audit")
        api.user_delete(driver.IPCLAIM, "ns", "plain")
        await driver.settle(ctx, api)
        during = api.find(driver.POOL, "ns", "p")
        assert during is not None
        leftover = api.find(driver.M3_ADDRESS, "ns", "p-10-0-0-1")
        assert leftover is not None
        assert leftover["metadata"]["finalizers"] == ["example.com/audit"]
        api.objects[key]["metadata"]["finalizers"] = []
        api.user_delete(driver.M3_ADDRESS, "ns", "p-10-0-0-1")
        await driver.settle(ctx, api)
        return api, during

    api, during = run(scenario)
    assert during["status"].get("indexes") == {"plain": "10.0.0.1"}
    assert during["status"]["used"] == 1
    after = api.find(driver.POOL, "ns", "p")
    assert after is not None
    assert not after["status"].get("indexes")
    assert after["status"]["used"] == 0


def test_a_burst_of_allocations_writes_the_pool_status_ever_more_rarely_and_ends_true(
    monkeypatch: Any,
) -> None:
    """One claim every half second for a minute: the status is written with a growing pace
    (at most every ``STATUS_PACE_CAP`` seconds), not every half second, and the last write
    after the burst counts every address; a lone change later is written at once."""
    now = [1000.0]
    monkeypatch.setattr(pools, "clock", lambda: now[0])

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, replace(driver.FAST, status_delay=0.5))
        api.put(driver.POOL, driver.pool_body("p", pools=[{"subnet": "10.0.0.0/24"}]))
        await driver.settle(ctx, api)
        before = len(status_writes(api))
        for i in range(120):
            api.put(driver.IPCLAIM, driver.metal3_claim(f"c{i}"))
            await driver.settle(ctx, api)
            now[0] += 0.5
            ctx.pool(("ns", "p"))  # what add_after would bring back by now
            await driver.settle(ctx, api)
        burst = len(status_writes(api)) - before
        assert burst <= 60 / pools.STATUS_PACE_CAP + 6, f"{burst} status writes in the burst"
        now[0] += pools.STATUS_PACE_CAP
        ctx.pool(("ns", "p"))
        await driver.settle(ctx, api)
        pool = api.find(driver.POOL, "ns", "p")
        assert pool is not None
        assert pool["status"]["used"] == 120
        quiet = len(status_writes(api))
        now[0] += 60
        api.put(driver.IPCLAIM, driver.metal3_claim("late"))
        await driver.settle(ctx, api)
        assert len(status_writes(api)) == quiet + 1, "a lone change after a quiet spell waits not"
        return api

    run(scenario)


def status_writes(api: FakeApi) -> list[tuple[str, str, str]]:
    return [w for w in api.writes if w[:2] == ("patch-status", "ippools")]
