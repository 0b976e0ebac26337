"""A pool's status as the in-memory API shows it after the controller settles."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

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
