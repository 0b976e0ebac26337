"""Watch events of an earlier IPAddress of the same name, delivered late, replayed exactly.

An IPAddress is named for its address, so a freed address comes back as a new object of the
same name. Kopf queues events per object uid, so the last events of the old object can be
handled after the new object's: they must never make the controller forget the new one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from ipam.handlers import resync
from ipam.kube import resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi, WatchEvent

ONE_ADDRESS: dict[str, Any] = {"pools": [{"start": "10.0.0.1", "end": "10.0.0.1"}]}
SMALL: dict[str, Any] = {"pools": [{"start": "10.0.0.1", "end": "10.0.0.3"}]}

KINDS = {
    "metal3": (driver.IPCLAIM, driver.M3_ADDRESS, driver.metal3_claim),
    "capi": (driver.CAPI_CLAIM, driver.CAPI_ADDRESS, driver.capi_claim),
}


class HeldBack:
    """Holds the watch events of chosen objects (by uid) until they are let through."""

    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.uids: set[str] = set()
        self.held: list[WatchEvent] = []
        self._take = api.take_events
        api.take_events = self.take  # type: ignore[method-assign]

    def take(self) -> list[WatchEvent]:
        passed = []
        for event in self._take():
            if event.body["metadata"]["uid"] in self.uids:
                self.held.append(event)
            else:
                passed.append(event)
        return passed

    def let_through(self) -> None:
        """Deliver what was held before anything newer (the late object's queue catches up)."""
        self.uids.clear()
        self.api.events[:0] = self.held
        self.held = []


def run(kind: str) -> tuple[FakeApi, list[dict[str, Any]]]:
    claim_resource, address_resource, claim_body = KINDS[kind]

    async def scenario() -> tuple[FakeApi, list[dict[str, Any]]]:
        api = FakeApi()
        ctx = driver.controller(api)
        late = HeldBack(api)
        api.put(driver.POOL, driver.pool_body(**ONE_ADDRESS))
        api.put(claim_resource, claim_body("first"))
        await driver.settle(ctx, api)
        [old] = api.all(address_resource)
        # The first claim goes; the watch of its IPAddress lags behind.
        late.uids.add(old["metadata"]["uid"])
        api.user_delete(claim_resource, "ns", "first")
        await driver.settle(ctx, api)
        assert api.all(address_resource) == [], "released (its events are still on their way)"
        # The address is free at once: a second claim gets it, as a new object of that name.
        api.put(claim_resource, claim_body("second"))
        await driver.settle(ctx, api)
        [new] = api.all(address_resource)
        assert new["metadata"]["name"] == old["metadata"]["name"]
        assert new["metadata"]["uid"] != old["metadata"]["uid"]
        # The old object's last events arrive now; then the second claim vanishes outright
        # (a delete that wins over our finalizer lands after its status was written).
        late.let_through()
        api.remove_outright(claim_resource, "ns", "second")
        await driver.settle(ctx, api)
        return api, api.all(address_resource)

    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_late_events_of_an_earlier_object_of_the_name_never_hide_the_new_one(kind: str) -> None:
    api, left = run(kind)
    claim_resource = KINDS[kind][0]
    assert api.find(claim_resource, "ns", "second") is None
    assert left == [], f"the vanished claim's address is given back, not leaked: {left}"
    pool = api.find(driver.POOL, "ns", "p")
    assert pool is not None
    assert pool["status"].get("used", 0) == 0


def run_resync(kind: str) -> tuple[list[str], list[dict[str, Any]]]:
    claim_resource, address_resource, claim_body = KINDS[kind]

    async def scenario() -> tuple[list[str], list[dict[str, Any]]]:
        api = FakeApi()
        # Orphans wait, as they do by default: the re-alignment's claim reconciles come first.
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, orphan_grace=3600.0))
        api.put(driver.POOL, driver.pool_body(**SMALL))
        api.put(claim_resource, claim_body("first"))
        await driver.settle(ctx, api)
        listed = api.list_page

        async def list_while_the_world_moves(
            resource: resources.Resource, namespace: str | None, token: str | None = None
        ) -> dict[str, Any]:
            answer = await listed(resource, namespace, token)
            if resource == address_resource:
                api.list_page = listed  # type: ignore[method-assign]
                # While the List's answer is on its way: the first claim is released and
                # its address given to a second claim, as a new object of the same name.
                api.user_delete(claim_resource, "ns", "first")
                await driver.settle(ctx, api)
                api.put(claim_resource, claim_body("second"))
                await driver.settle(ctx, api)
            return answer

        api.list_page = list_while_the_world_moves  # type: ignore[method-assign]
        await resync.once(ctx, ["ns"])
        await driver.settle(ctx, api)
        held = sorted(a["spec"]["address"] for a in api.all(address_resource))
        api.user_delete(claim_resource, "ns", "second")
        await driver.settle(ctx, api)
        return held, api.all(address_resource)

    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_list_answered_before_an_address_came_back_never_hides_the_new_object(
    kind: str,
) -> None:
    """The periodic re-alignment's List can still show the earlier object of a name."""
    held, left = run_resync(kind)
    assert left == [], f"its deletion gives back every address it was given: {left}"
    assert held == ["10.0.0.1"], "the second claim kept the address it was given, no other"
