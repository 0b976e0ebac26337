"""A restarted controller: a new claim comes before the re-checks of the bound ones, which cost nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ipam.handlers import claims, context, resync
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi

BOUND = 30


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


async def _bound_pool() -> FakeApi:
    """A pool whose claims all hold an address, bound by a controller that then stopped."""
    api = FakeApi()
    api.put(driver.POOL, driver.pool_body(pools=[{"subnet": "10.0.0.0/24"}]))
    for n in range(BOUND):
        api.put(driver.IPCLAIM, driver.metal3_claim(f"claim-{n:02}"))
    await driver.settle(driver.controller(api), api)
    api.take_events()
    return api


def _listed(ctx: context.Context, api: FakeApi) -> None:
    """Every claim as the claim watch's List hands them over, in the server's order."""
    for body in api.all(driver.IPCLAIM, "ns"):
        ctx.claim(context.ClaimRef("metal3", "ns", body["metadata"]["name"]), body)


def test_a_new_claim_listed_after_the_bound_ones_is_served_first() -> None:
    async def scenario() -> tuple[list[str], FakeApi]:
        api = await _bound_pool()
        api.put(driver.IPCLAIM, driver.metal3_claim("zz-new"))  # listed last
        ctx = driver.controller(api)
        await resync.prime(ctx, ["ns"])
        _listed(ctx, api)
        order = []
        while len(ctx.claims):
            ref = await ctx.claims.get()
            order.append(ref.name)
            await claims.reconcile(ctx, ref)
            ctx.claims.done(ref)
        return order, api

    order, api = run(scenario)
    assert order[0] == "zz-new"
    assert sorted(order[1:]) == [f"claim-{n:02}" for n in range(BOUND)]
    new = api.find(driver.IPCLAIM, "ns", "zz-new")
    assert new is not None
    held = {b["spec"]["address"] for b in api.all(driver.M3_ADDRESS, "ns")}
    assert len(held) == BOUND + 1, "the new claim got an address none of the others holds"


def test_re_checking_bound_claims_after_a_restart_writes_and_reads_nothing() -> None:
    async def scenario() -> tuple[int, int]:
        api = await _bound_pool()
        ctx = driver.controller(api)
        await resync.prime(ctx, ["ns"])
        reads = 0
        get = api.get

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await get(*args, **kwargs)

        api.get = counted  # type: ignore[method-assign]
        writes = len(api.writes)
        _listed(ctx, api)
        await driver.settle(ctx, api)
        return reads, len(api.writes) - writes

    assert run(scenario) == (0, 0)
