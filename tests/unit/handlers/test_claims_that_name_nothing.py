"""Claims that can never be served are told why; objects made by hand are nobody's holding."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def test_a_pool_name_no_object_can_have_is_an_invalid_claim_not_a_wait() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("slashed", pool="p/../../x"))
        api.put(driver.CAPI_CLAIM, driver.capi_claim("spaced", pool="Upper Case"))
        api.put(driver.IPCLAIM, driver.metal3_claim("fine"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    slashed = api.find(driver.IPCLAIM, "ns", "slashed")
    assert slashed is not None
    assert slashed["status"]["errorMessage"] == (
        "spec.pool.name: 'p/../../x' is not a valid object name (a lowercase RFC 1123 "
        "subdomain), so no IPPool can ever have it"
    )
    [ready] = slashed["status"]["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidClaim")
    spaced = api.find(driver.CAPI_CLAIM, "ns", "spaced")
    assert spaced is not None
    [ready] = spaced["status"]["conditions"]
    assert (ready["reason"], ready["message"]) == (
        "InvalidClaim",
        "spec.poolRef.name: 'Upper Case' is not a valid object name (a lowercase RFC 1123 "
        "subdomain), so no IPPool can ever have it",
    )
    fine = api.find(driver.IPCLAIM, "ns", "fine")
    assert fine is not None
    assert fine["status"]["address"]["name"] == "p-10-0-0-1"
    assert {(e["involvedObject"]["name"], e["reason"]) for e in api.posted} >= {
        ("slashed", "InvalidClaim"),
        ("spaced", "InvalidClaim"),
    }


def test_objects_made_by_hand_that_are_not_adopted_are_not_in_the_pools_status() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.M3_ADDRESS, driver.metal3_address("outside", "10.9.9.9", "c"))
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-3", "10.0.0.3", "d"))
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("c"))
        api.put(driver.IPCLAIM, driver.metal3_claim("d", annotations={"ipAddress": "10.0.0.4"}))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    pool = api.find(driver.POOL, "ns", "p")
    assert pool is not None
    assert pool["status"]["indexes"] == {"c": "10.0.0.1", "d": "10.0.0.4"}
    assert pool["status"]["outOfRange"] == 0
    assert [c["type"] for c in pool["status"]["conditions"]] == ["Ready"]


def test_an_address_stripped_of_finalizer_owners_and_labels_gets_them_back_at_once() -> None:
    async def scenario() -> tuple[FakeApi, dict[str, Any], dict[str, Any]]:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.CAPI_CLAIM, driver.capi_claim("m-0", labels={"team": "blue"}))
        await driver.settle(ctx, api)
        [made] = api.all(driver.CAPI_ADDRESS)
        name = made["metadata"]["name"]
        stripped = {"finalizers": [], "ownerReferences": None, "labels": None}
        await api.patch(driver.CAPI_ADDRESS, "ns", name, {"metadata": stripped})
        await driver.settle(ctx, api)  # events only: no resync, no timer
        after = api.find(driver.CAPI_ADDRESS, "ns", name)
        assert after is not None
        return api, made, after

    _, made, after = run(scenario)
    assert after["metadata"]["uid"] == made["metadata"]["uid"]
    assert after["metadata"]["finalizers"] == made["metadata"]["finalizers"]
    assert after["metadata"]["labels"] == {"team": "blue"}
    assert after["metadata"]["ownerReferences"] == made["metadata"]["ownerReferences"]
