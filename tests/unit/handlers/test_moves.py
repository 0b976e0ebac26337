"""A ``clusterctl move`` replayed against the in-memory API: what arrives when, on each side.

clusterctl copies metadata, never status, creates a namespace's objects in ownership order
(claims long before their IPAddresses when it is slow) and, in the source, deletes the
IPAddresses before the claims, marking what it deletes with its delete-for-move annotation.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from ipam.kube import resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi

FINALIZER = "ipclaim.ipam.metal3.io"


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def addresses(api: FakeApi) -> list[dict[str, Any]]:
    return api.all(driver.M3_ADDRESS) + api.all(driver.CAPI_ADDRESS)


def moved_pool(held: int) -> dict[str, Any]:
    """The pool as clusterctl creates it in the target: a new object, the source's metadata."""
    body = driver.pool_body()
    body["metadata"]["annotations"] = {
        resources.HELD_COUNT_ANNOTATION: str(held),
        resources.HELD_IN_ANNOTATION: "uid-of-the-pool-in-the-source",
    }
    return body


def moved_claim(name: str, address: str) -> dict[str, Any]:
    return driver.metal3_claim(
        name,
        finalizers=[FINALIZER],
        annotations={resources.RECORDED_ADDRESS_ANNOTATION: address},
    )


def test_moved_claims_wait_past_the_rebind_grace_while_their_pool_awaits_its_addresses() -> None:
    """clusterctl slower than the rebind grace: the IPAddresses it has yet to create are not
    made here first (its create of the same name would then fail and the move abort)."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        options = dataclasses.replace(driver.FAST, rebind_grace=0.0, move_settle=3600.0)
        ctx = driver.controller(api, options)
        api.put(driver.POOL, moved_pool(held=2))
        api.put(driver.IPCLAIM, moved_claim("a", "10.0.0.1"))
        api.put(driver.IPCLAIM, moved_claim("b", "10.0.0.2"))
        await driver.settle(ctx, api)
        assert addresses(api) == [], "the pool still awaits both moved IPAddresses"
        for claim, address in (("a", "10.0.0.1"), ("b", "10.0.0.2")):
            name = "p-" + address.replace(".", "-")
            api.put(driver.M3_ADDRESS, driver.metal3_address(name, address, claim))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    for claim, name in (("a", "p-10-0-0-1"), ("b", "p-10-0-0-2")):
        body = api.find(driver.IPCLAIM, "ns", claim)
        assert body is not None
        assert body["status"]["address"]["name"] == name
    assert len(addresses(api)) == 2
    assert not [w for w in api.writes if w[0] == "create" and w[1] == "ipaddresses"]


def test_a_moved_claim_re_creates_its_address_once_the_pool_stops_awaiting() -> None:
    """The wait ends: here the other moved IPAddress arrives, this one never does."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        options = dataclasses.replace(driver.FAST, rebind_grace=0.0, move_settle=3600.0)
        ctx = driver.controller(api, options)
        api.put(driver.POOL, moved_pool(held=1))
        api.put(driver.IPCLAIM, moved_claim("a", "10.0.0.1"))
        api.put(driver.IPCLAIM, moved_claim("b", "10.0.0.2"))
        await driver.settle(ctx, api)
        assert addresses(api) == []
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-2", "10.0.0.2", "b"))
        await driver.settle(ctx, api)  # the pool settles and wakes the waiting claim
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "a")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-1"
    assert sorted(a["spec"]["address"] for a in addresses(api)) == ["10.0.0.1", "10.0.0.2"]


async def delete_for_move(api: FakeApi, resource: resources.Resource, name: str) -> None:
    """What clusterctl does to each object it moved: mark it, then delete it."""
    marked = {resources.DELETE_FOR_MOVE_ANNOTATION: ""}
    await api.patch(resource, "ns", name, {"metadata": {"annotations": marked}})
    api.user_delete(resource, "ns", name)


def bound_to(api: FakeApi, claim: str) -> str | None:
    body = api.find(driver.IPCLAIM, "ns", claim)
    assert body is not None, f"claim {claim} exists"
    return ((body.get("status") or {}).get("address") or {}).get("name")


def test_an_address_clusterctl_deleted_for_a_move_is_never_handed_out_again_in_the_source() -> None:
    """The claim holding it lives on in the target; a claim made in the source meanwhile,
    before or after clusterctl deletes the moved claim, gets another address."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("moved"))
        await driver.settle(ctx, api)
        assert bound_to(api, "moved") == "p-10-0-0-1"
        await delete_for_move(api, driver.M3_ADDRESS, "p-10-0-0-1")
        await driver.settle(ctx, api)
        assert addresses(api) == [], "the moved claim is not given another address"
        api.put(driver.IPCLAIM, driver.metal3_claim("late"))
        await driver.settle(ctx, api)
        assert bound_to(api, "late") == "p-10-0-0-2"
        await delete_for_move(api, driver.IPCLAIM, "moved")
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, driver.metal3_claim("later"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.find(driver.IPCLAIM, "ns", "moved") is None
    assert bound_to(api, "later") == "p-10-0-0-3"
    assert sorted(a["spec"]["address"] for a in addresses(api)) == ["10.0.0.2", "10.0.0.3"]


def test_a_pending_claim_is_not_served_by_clusterctl_deleting_addresses_for_a_move() -> None:
    """clusterctl deletes IPAddresses before claims: an exhausted claim about to be moved
    must not take an address that left with the move."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body(pools=[{"start": "10.0.0.1", "end": "10.0.0.1"}]))
        api.put(driver.IPCLAIM, driver.metal3_claim("holder"))
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, driver.metal3_claim("pending"))
        await driver.settle(ctx, api)
        assert bound_to(api, "pending") is None, "the pool is exhausted"
        await delete_for_move(api, driver.M3_ADDRESS, "p-10-0-0-1")
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert bound_to(api, "pending") is None
    assert addresses(api) == []


def test_a_claim_moved_back_gets_the_address_it_left_with() -> None:
    """The address kept taken for a moved claim is that claim's again when it returns."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)  # no grace: the claim re-creates its address at once
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("moved"))
        await driver.settle(ctx, api)
        await delete_for_move(api, driver.M3_ADDRESS, "p-10-0-0-1")
        await delete_for_move(api, driver.IPCLAIM, "moved")
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, moved_claim("moved", "10.0.0.1"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert bound_to(api, "moved") == "p-10-0-0-1"
    assert [a["spec"]["address"] for a in addresses(api)] == ["10.0.0.1"]


def test_an_address_kept_for_a_moved_claim_is_held_for_another_claim_recording_it() -> None:
    """Not a guess of this process that the recorded IPAddress may still prove wrong: the
    other claim is told at once and given another address."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, rebind_grace=3600.0))
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("moved"))
        await driver.settle(ctx, api)
        await delete_for_move(api, driver.M3_ADDRESS, "p-10-0-0-1")
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, moved_claim("stranger", "10.0.0.1"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert bound_to(api, "stranger") == "p-10-0-0-2"
    assert [e["reason"] for e in api.posted if "stranger" in str(e)] == ["RecordedAddressTaken"]


class Clock:
    """A monotonic clock the test moves by hand (the event loop keeps its own)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_moved_claims_keep_waiting_while_clusterctl_is_still_creating_their_addresses(
    monkeypatch: Any,
) -> None:
    """A slow clusterctl: the moved IPAddresses trickle in for longer than the settle time,
    each soon after the one before. While they keep coming, none is made here first (a copy
    made here would be a write the move did not ask for, and clusterctl's create of the
    same name would fail)."""
    from ipam.handlers import claims, context, state

    clock = Clock()
    monkeypatch.setattr(claims, "time", clock)
    monkeypatch.setattr(state, "time", clock)
    moved = [("a", "10.0.0.1"), ("b", "10.0.0.2"), ("c", "10.0.0.3")]

    async def scenario() -> FakeApi:
        api = FakeApi()
        options = dataclasses.replace(driver.FAST, rebind_grace=0.0, move_settle=10.0)
        ctx = driver.controller(api, options)
        api.put(driver.POOL, moved_pool(held=len(moved)))
        for claim, address in moved:
            api.put(driver.IPCLAIM, moved_claim(claim, address))
        await driver.settle(ctx, api)
        for claim, address in moved:
            clock.now += 7.0  # each within the settle time of the one before, not of the first
            name = "p-" + address.replace(".", "-")
            api.put(driver.M3_ADDRESS, driver.metal3_address(name, address, claim))
            for waiting, _ in moved:  # the claims' timers fire
                ctx.claim(context.ClaimRef("metal3", "ns", waiting))
            await driver.settle(ctx, api)
            assert not [w for w in api.writes if w[0] == "create" and w[1] == "ipaddresses"], (
                f"an IPAddress was made here while clusterctl was still creating them ({claim})"
            )
        return api

    api = run(scenario)
    for claim, address in moved:
        body = api.find(driver.IPCLAIM, "ns", claim)
        assert body is not None
        assert body["status"]["address"]["name"] == "p-" + address.replace(".", "-")
