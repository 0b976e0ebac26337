"""Races and odd objects replayed exactly, against the in-memory API (each also has a real test).

Each test makes the world move at a chosen moment between two of the controller's writes,
then lets the controller settle, and checks what a user would see: no address leaked, none
given twice, nothing churning.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from ipam.core import ledger
from ipam.kube import resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def addresses(api: FakeApi) -> list[dict[str, Any]]:
    return api.all(driver.M3_ADDRESS) + api.all(driver.CAPI_ADDRESS)


def test_a_claim_that_vanishes_right_after_our_finalizer_leaks_no_address() -> None:
    """The API server can let a delete win over a finalizer added at the same moment."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("quick"))

        async def vanish(
            verb: str, resource: resources.Resource, namespace: str, name: str
        ) -> None:
            if (verb, resource, name) == ("patch", driver.IPCLAIM, "quick"):
                api.remove_outright(driver.IPCLAIM, namespace, name)

        api.after.append(vanish)
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.find(driver.IPCLAIM, "ns", "quick") is None
    assert addresses(api) == [], "the address made for the vanished claim is given back"


def test_a_claim_deleted_between_its_address_and_its_status_is_released() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.CAPI_CLAIM, driver.capi_claim("quick"))

        async def delete_claim(
            verb: str, resource: resources.Resource, namespace: str, name: str
        ) -> None:
            if verb == "create" and resource == driver.CAPI_ADDRESS:
                api.user_delete(driver.CAPI_CLAIM, namespace, "quick")

        api.after.append(delete_claim)
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.find(driver.CAPI_CLAIM, "ns", "quick") is None
    assert addresses(api) == []


def test_a_hand_made_twin_is_given_back_without_dropping_the_claims_address() -> None:
    """Two objects of one claim and one address: the extra goes, the holding stays, no churn."""

    async def scenario() -> tuple[FakeApi, list[tuple[str, str, str]]]:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body(allocationStrategy="random"))
        api.put(driver.IPCLAIM, driver.metal3_claim("c"))
        await driver.settle(ctx, api)
        [made] = api.all(driver.M3_ADDRESS)
        api.put(
            driver.M3_ADDRESS,
            driver.metal3_address(
                "by-hand", made["spec"]["address"], "c", finalizers=["ipaddress.ipam.metal3.io"]
            ),
        )
        api.writes.clear()
        await driver.settle(ctx, api)
        writes_after_twin = list(api.writes)
        api.writes.clear()
        for _ in range(3):
            ctx.claim(driver.context.ClaimRef("metal3", "ns", "c"))
            await driver.settle(ctx, api)
        assert api.writes == [], f"settled for good, yet wrote {api.writes}"
        return api, writes_after_twin

    api, writes = run(scenario)
    [kept] = api.all(driver.M3_ADDRESS)
    assert kept["metadata"]["name"] != "by-hand"
    assert ("create", "ipaddresses", kept["metadata"]["name"]) not in writes, "no new address"
    claim = api.find(driver.IPCLAIM, "ns", "c")
    assert claim is not None
    assert claim["status"]["address"]["name"] == kept["metadata"]["name"]
    pool = api.find(driver.POOL, "ns", "p")
    assert pool is not None
    assert pool["status"]["used"] == 1


def test_an_object_naming_a_claim_outside_its_pool_is_not_adopted() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.M3_ADDRESS, driver.metal3_address("stray", "10.9.9.9", "c"))
        api.put(driver.IPCLAIM, driver.metal3_claim("c"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "c")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-1", "served from the pool"
    assert "ipclaim.ipam.metal3.io" in claim["metadata"]["finalizers"]
    assert claim["metadata"]["annotations"][resources.RECORDED_ADDRESS_ANNOTATION] == "10.0.0.1"
    assert api.find(driver.M3_ADDRESS, "ns", "stray") is not None, "left alone"
    reasons = {event["reason"] for event in api.posted}
    assert "AddressNotAdopted" in reasons


def test_an_object_naming_a_claim_inside_its_pool_is_adopted_and_protected() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-3", "10.0.0.3", "c"))
        api.put(driver.IPCLAIM, driver.metal3_claim("c"))
        await driver.settle(ctx, api)
        api.user_delete(driver.IPCLAIM, "ns", "c")
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.find(driver.IPCLAIM, "ns", "c") is None
    assert addresses(api) == [], "adopted, so released with its claim"


def test_a_moved_claim_waits_for_its_address_and_no_one_else_gets_it() -> None:
    """clusterctl creates the claim long before its IPAddress; status does not move."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, rebind_grace=3600.0))
        api.put(driver.POOL, driver.pool_body())
        moved = driver.metal3_claim(
            "moved",
            finalizers=["ipclaim.ipam.metal3.io"],
            annotations={resources.RECORDED_ADDRESS_ANNOTATION: "10.0.0.1"},
        )
        api.put(driver.IPCLAIM, moved)
        api.put(driver.IPCLAIM, driver.metal3_claim("fresh"))
        await driver.settle(ctx, api)
        fresh = api.find(driver.IPCLAIM, "ns", "fresh")
        assert fresh is not None
        assert fresh["status"]["address"]["name"] == "p-10-0-0-2", "10.0.0.1 is reserved"
        assert api.find(driver.M3_ADDRESS, "ns", "p-10-0-0-1") is None, "it waits, creates nothing"
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-1", "10.0.0.1", "moved"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    moved = api.find(driver.IPCLAIM, "ns", "moved")
    assert moved is not None
    assert moved["status"]["address"]["name"] == "p-10-0-0-1"
    assert len(addresses(api)) == 2


def test_a_moved_claim_whose_address_never_arrives_gets_that_same_address_again() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)  # no grace
        api.put(driver.POOL, driver.pool_body())
        api.put(
            driver.IPCLAIM,
            driver.metal3_claim(
                "moved",
                finalizers=["ipclaim.ipam.metal3.io"],
                annotations={resources.RECORDED_ADDRESS_ANNOTATION: "10.0.0.4"},
            ),
        )
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "moved")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-4"


def test_a_pool_that_records_more_holdings_than_known_serves_no_new_claim() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        options = dataclasses.replace(driver.FAST, move_settle=3600.0)
        ctx = driver.controller(api, options)
        api.put(
            driver.POOL,
            {
                **driver.pool_body(),
                "metadata": {
                    "name": "p",
                    "namespace": "ns",
                    "annotations": {resources.HELD_COUNT_ANNOTATION: "1"},
                },
            },
        )
        api.put(driver.IPCLAIM, driver.metal3_claim("new"))
        await driver.settle(ctx, api)
        assert addresses(api) == [], "an address still on its way may be the first free one"
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-1", "10.0.0.1", "old"))
        await driver.settle(ctx, api)
        ctx.claim(driver.context.ClaimRef("metal3", "ns", "new"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "new")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-2"


def test_an_address_of_ours_without_a_claim_is_released() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(
            driver.M3_ADDRESS,
            driver.metal3_address(
                "p-10-0-0-1", "10.0.0.1", "gone", finalizers=["ipaddress.ipam.metal3.io"]
            ),
        )
        await driver.settle(ctx, api)
        ctx.address(driver.context.AddressRef("metal3", "ns", "p-10-0-0-1"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert addresses(api) == []
    assert "OrphanReleased" in {event["reason"] for event in api.posted}


def test_the_source_leaves_a_claim_alone_whose_address_clusterctl_deleted_for_a_move() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("c"))
        await driver.settle(ctx, api)
        [made] = api.all(driver.M3_ADDRESS)
        name = made["metadata"]["name"]
        await api.patch(
            driver.M3_ADDRESS,
            "ns",
            name,
            {"metadata": {"annotations": {resources.DELETE_FOR_MOVE_ANNOTATION: ""}}},
        )
        api.user_delete(driver.M3_ADDRESS, "ns", name)
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert addresses(api) == [], "deleted for the move, and not made again here"


def test_a_deleted_claim_with_another_controllers_finalizer_says_what_it_waits_for() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(
            driver.CAPI_CLAIM,
            driver.capi_claim("c", finalizers=["ipam.cluster.x-k8s.io/ReleaseAddress"]),
        )
        await driver.settle(ctx, api)
        api.user_delete(driver.CAPI_CLAIM, "ns", "c")
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    [address] = addresses(api)
    said = (
        f"Deleted, but its address {address['spec']['address']} is kept until this finalizer "
        "is removed by the controller that set it: ipam.cluster.x-k8s.io/ReleaseAddress"
    )
    [waiting] = [e for e in api.posted if e["reason"] == "WaitingForFinalizers"]
    assert waiting["message"] == said
    claim = api.find(driver.CAPI_CLAIM, "ns", "c")
    assert claim is not None
    assert claim["metadata"]["finalizers"] == [
        "ipam.cluster.x-k8s.io/ReleaseAddress",
        "ipam.metal3.io/ipaddressclaim",
    ], "the other provider's finalizer is never touched"
    deleting = [c for c in claim["status"]["conditions"] if c["type"] == "Deleting"]
    assert [(c["status"], c["reason"], c["message"]) for c in deleting] == [
        ("True", "WaitingForFinalizers", said)
    ]
    ready = [c for c in claim["status"]["conditions"] if c["type"] == "Ready"]
    assert [(c["status"], c["reason"]) for c in ready] == [("True", "Allocated")]


def test_a_waiting_deleted_claim_names_what_is_left_and_goes_once_it_is_gone() -> None:
    """Two foreign finalizers; one goes (the message follows), then the other (released)."""
    others = ["metal3data.infrastructure.cluster.x-k8s.io", "example.com/audit"]

    async def scenario() -> tuple[FakeApi, list[str], list[str]]:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("c", finalizers=list(others)))
        await driver.settle(ctx, api)
        api.user_delete(driver.IPCLAIM, "ns", "c")
        await driver.settle(ctx, api)
        first = _deleting_message(api)
        claim = api.find(driver.IPCLAIM, "ns", "c")
        assert claim is not None
        claim["metadata"]["finalizers"].remove(others[0])
        api.put(driver.IPCLAIM, claim)
        await driver.settle(ctx, api)
        second = _deleting_message(api)
        claim = api.find(driver.IPCLAIM, "ns", "c")
        assert claim is not None
        claim["metadata"]["finalizers"].remove(others[1])
        api.put(driver.IPCLAIM, claim)
        await driver.settle(ctx, api)
        return api, first, second

    api, first, second = run(scenario)
    assert first == [
        "Deleted, but its address 10.0.0.1 is kept until these finalizers are removed by the "
        f"controller that set it: {', '.join(others)}"
    ]
    assert second == [
        "Deleted, but its address 10.0.0.1 is kept until this finalizer is removed by the "
        f"controller that set it: {others[1]}"
    ]
    assert api.find(driver.IPCLAIM, "ns", "c") is None
    assert addresses(api) == []


def _deleting_message(api: FakeApi) -> list[str]:
    claim = api.find(driver.IPCLAIM, "ns", "c")
    assert claim is not None
    conditions = claim.get("status", {}).get("conditions", [])
    return [c["message"] for c in conditions if c["type"] == "Deleting"]


def test_a_count_left_stale_by_a_crash_in_the_same_pool_object_makes_nobody_wait() -> None:
    """Killed between a release and its recount, the pool still says 1 held; restarted in
    the same cluster (same pool uid), the controller knows every IPAddress and serves."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, move_settle=3600.0))
        stored = api.put(driver.POOL, driver.pool_body())
        # As stored before the crash: the annotations name this very object.
        api.objects[(driver.POOL.group, driver.POOL.plural, "ns", "p")]["metadata"][
            "annotations"
        ] = {
            resources.HELD_COUNT_ANNOTATION: "1",
            resources.HELD_IN_ANNOTATION: stored["metadata"]["uid"],
        }
        api.put(driver.IPCLAIM, driver.metal3_claim("new"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "new")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-1"
    pool = api.find(driver.POOL, "ns", "p")
    assert pool is not None
    annotations = pool["metadata"]["annotations"]
    assert annotations[resources.HELD_COUNT_ANNOTATION] == "1"
    assert annotations[resources.HELD_IN_ANNOTATION] == pool["metadata"]["uid"]


def test_addresses_released_here_never_make_new_claims_wait_for_a_move() -> None:
    """The held count follows releases: a pool that gave addresses back does not await them."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, move_settle=3600.0))
        api.put(driver.POOL, driver.pool_body())
        for name in ("a", "b"):
            api.put(driver.IPCLAIM, driver.metal3_claim(name))
        await driver.settle(ctx, api)
        pool = api.find(driver.POOL, "ns", "p")
        assert pool is not None
        assert pool["metadata"]["annotations"][resources.HELD_COUNT_ANNOTATION] == "2"
        for name in ("a", "b"):
            api.user_delete(driver.IPCLAIM, "ns", name)
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, driver.metal3_claim("later"))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "later")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-1"
    pool = api.find(driver.POOL, "ns", "p")
    assert pool is not None
    assert pool["metadata"]["annotations"][resources.HELD_COUNT_ANNOTATION] == "1"
    assert pool["metadata"]["annotations"][resources.HELD_IN_ANNOTATION] == pool["metadata"]["uid"]


def test_a_recorded_address_only_reserved_here_for_another_claim_is_still_awaited() -> None:
    """Two controllers without leader election. The other one recorded 10.0.0.1 on claim c
    and created its IPAddress, which this one has not seen yet; this one meanwhile reserved
    10.0.0.1 for claim c2 (a creation that will fail on the name). A reservation is a guess,
    not a holding: c waits for its recorded address instead of getting a second one."""

    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api, dataclasses.replace(driver.FAST, rebind_grace=3600.0))
        api.put(driver.POOL, driver.pool_body())
        await driver.settle(ctx, api)
        api.put(
            driver.M3_ADDRESS,
            driver.metal3_address(
                "p-10-0-0-1", "10.0.0.1", "c", finalizers=["ipaddress.ipam.metal3.io"]
            ),
        )
        api.take_events()  # this controller's watch lags behind
        pool_state = ctx.registry.find_pool("ns", "p")
        assert pool_state is not None
        pool_state.reserve(
            ledger.Holding("10.0.0.1", ledger.ClaimKey("metal3", "c2"), "p-10-0-0-1")
        )
        api.put(
            driver.IPCLAIM,
            driver.metal3_claim(
                "c",
                annotations={resources.RECORDED_ADDRESS_ANNOTATION: "10.0.0.1"},
                finalizers=["ipclaim.ipam.metal3.io"],
            ),
        )
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.IPCLAIM, "ns", "c")
    assert claim is not None
    assert claim["metadata"]["annotations"][resources.RECORDED_ADDRESS_ANNOTATION] == "10.0.0.1"
    assert [a["metadata"]["name"] for a in addresses(api)] == ["p-10-0-0-1"]
