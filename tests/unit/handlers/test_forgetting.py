"""What the controller remembers follows what exists: deleted claims and pools leave nothing behind.

Memory must come back down when claims go, so every per-claim, per-address and per-pool
entry of the registry and the context is counted after claims of both kinds were bound,
left waiting on an exhausted pool or on a pool that does not exist, then deleted with
their pools.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from ipam.handlers import context, state
from tests.unit.handlers import driver, test_state
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=60))


def remembered(ctx: context.Context) -> dict[str, int]:
    """How many entries each per-object memory of the controller holds."""
    registry = ctx.registry
    pools = registry.pools.values()
    return {
        "pools": len(registry.pools),
        "namespaces": len(registry.by_namespace),
        "addresses": len(registry.address_pool),
        "facts": sum(len(s.facts) for s in pools),
        "seen_at": sum(len(s.seen_at) for s in pools),
        "holdings": sum(len(s.book) for s in pools),
        "waiting": sum(len(s.waiting) for s in pools),
        "first_unbound": sum(len(s.first_unbound) for s in pools),
        "claim_writes": len(registry.claim_writes),
        "moved_away": len(registry.moved_away),
        "reported": len(registry.reported),
        "orphans": len(registry.orphans),
        "clusters": len(registry.clusters),
        "mailbox": len(ctx.mailbox),
        "deleted": len(ctx.deleted),
    }


CLAIMS = 6
"""Claims of each kind on a pool of 5 addresses: 5 are bound, 7 wait (exhausted)."""


def test_deleted_claims_and_pools_leave_nothing_in_memory() -> None:
    async def scenario() -> tuple[dict[str, int], dict[str, int], dict[str, int], FakeApi]:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        names = [f"m{n}" for n in range(CLAIMS)], [f"c{n}" for n in range(CLAIMS)]
        for name in names[0]:
            api.put(driver.IPCLAIM, driver.metal3_claim(name))
        for name in names[1]:
            api.put(driver.CAPI_CLAIM, driver.capi_claim(name))
        api.put(driver.IPCLAIM, driver.metal3_claim("lost", pool="missing"))
        await driver.settle(ctx, api)
        busy = remembered(ctx)

        for name in [*names[0], "lost"]:
            api.user_delete(driver.IPCLAIM, "ns", name)
        for name in names[1]:
            api.user_delete(driver.CAPI_CLAIM, "ns", name)
        await driver.settle(ctx, api)
        claims_gone = remembered(ctx)

        api.user_delete(driver.POOL, "ns", "p")
        await driver.settle(ctx, api)
        await ctx.recorder.stop()
        return busy, claims_gone, remembered(ctx), api

    busy, claims_gone, all_gone, api = run(scenario)
    # What is counted was there while the claims lived (the count can see what it checks).
    assert busy["addresses"] == busy["facts"] == busy["holdings"] == 5
    assert busy["waiting"] == 2 * CLAIMS - 5 + 1, "the exhausted pool's and the lost claim"
    assert busy["pools"] == 2, "the pool, and the one the lost claim waits for"
    assert busy["reported"] > 0
    assert api.all(driver.M3_ADDRESS) == []
    assert api.all(driver.CAPI_ADDRESS) == []
    # With the claims gone only the pool object is remembered.
    kept = {k: v for k, v in claims_gone.items() if v}
    assert kept == {"pools": 1, "namespaces": 1}
    # With the pool gone too, nothing is.
    assert {k: v for k, v in all_gone.items() if v} == {}


def test_the_tables_shrink_back_when_addresses_are_forgotten() -> None:
    """A dict keeps the room of its largest size: the registry copies its tables down."""
    registry = state.Registry()
    many = 5000
    for n in range(many):
        registry.observe_address(
            test_state.address(f"a{n}", f"10.0.{n // 250}.{n % 250 + 1}", f"c{n}", uid=f"u{n}")
        )
    pool_state = registry.pool("ns", "pool1")
    full = {
        "address_pool": sys.getsizeof(registry.address_pool),
        "facts": sys.getsizeof(pool_state.facts),
        "seen_at": sys.getsizeof(pool_state.seen_at),
    }
    for n in range(many):
        assert registry.forget_address("metal3", "ns", f"a{n}", f"u{n}") is not None
    assert len(registry.address_pool) == len(pool_state.facts) == len(pool_state.book) == 0
    empty = {
        "address_pool": sys.getsizeof(registry.address_pool),
        "facts": sys.getsizeof(pool_state.facts),
        "seen_at": sys.getsizeof(pool_state.seen_at),
    }
    for table, size in empty.items():
        assert size * 8 < full[table], f"{table}: {size} bytes left of {full[table]}"


def test_the_newest_bodies_and_deletion_marks_of_a_burst_give_their_room_back() -> None:
    """A restart or a mass deletion leaves a body or a mark for each of thousands of claims
    until its reconcile takes it; once all are taken, nothing of them stays."""
    refs = [context.ClaimRef("metal3", "ns", f"m{n}") for n in range(10_000)]
    body = driver.metal3_claim("m")

    async def scenario() -> tuple[int, int, int]:
        ctx = driver.controller(FakeApi())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for ref in refs:
                ctx.claim(ref, body)
            for ref in refs[: len(refs) // 2]:
                ctx.claim_deleted(ref)
            busy = tracemalloc.get_traced_memory()[0]
            for ref in refs:
                ctx.take_deleted(ref) or ctx.take_body(ref)
            while len(ctx.claims):
                ctx.claims.done(await ctx.claims.get())
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        await ctx.recorder.stop()
        return before, busy, after

    before, busy, after = run(scenario)
    assert busy - before > 1_000_000, "the burst took room: the count can see it"
    assert after - before < 64 * 1024
