"""Two controllers without leader election on one pool, an IPClaim and an IPAddressClaim at once.

Each test runs two controllers on one in-memory server, each with its own copy of the watch
stream, and makes the second act at a chosen moment of the first one's allocation. A watch
on every write checks that no address is ever held by two IPAddress objects, of either
kind, even for a moment. The tests without the lock show the interleaving is real (the
address is given twice); with the address Leases it never is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ipam.handlers import claims, context
from ipam.kube import client, resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi

M_CLAIM = context.ClaimRef("metal3", "ns", "m")
C_CLAIM = context.ClaimRef("capi", "ns", "c")


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def addresses(api: FakeApi) -> list[dict[str, Any]]:
    return api.all(driver.M3_ADDRESS) + api.all(driver.CAPI_ADDRESS)


def watch_for_twins(api: FakeApi) -> list[tuple[str, list[str]]]:
    """After every write, every address held by two objects at that moment (kind/name each)."""
    seen: list[tuple[str, list[str]]] = []

    async def check(verb: str, resource: resources.Resource, namespace: str, name: str) -> None:
        holders: dict[str, list[str]] = {}
        for body in addresses(api):
            kind = body["apiVersion"].split("/")[0]
            holders.setdefault(body["spec"]["address"], []).append(
                f"{kind}/{body['metadata']['name']}"
            )
        for address, objects in sorted(holders.items()):
            if len(objects) > 1 and (address, sorted(objects)) not in seen:
                seen.append((address, sorted(objects)))

    api.after.append(check)
    return seen


class Pair:
    """Two controllers (``a`` and ``b``) on one server, each with its own watch stream."""

    def __init__(self, api: FakeApi, *, locks: bool) -> None:
        self.api = api
        self.feed = driver.Feed(api, 2)
        self.a = driver.controller(api, locks=locks, identity="a")
        self.b = driver.controller(api, locks=locks, identity="b")
        self.take_a, self.take_b = self.feed.taker(0), self.feed.taker(1)

    async def settle(self) -> None:
        """Both to idleness: rounds until a whole round writes nothing."""
        for _ in range(20):
            before = len(self.api.writes)
            await driver.settle(self.a, self.api, take=self.take_a)
            await driver.settle(self.b, self.api, take=self.take_b)
            if len(self.api.writes) == before and not self.api.events:
                return
        raise AssertionError("the two controllers never settled")


async def _pool_and_claims(pair: Pair) -> None:
    pair.api.put(driver.POOL, driver.pool_body())
    await pair.settle()
    pair.api.put(driver.IPCLAIM, driver.metal3_claim("m"))
    pair.api.put(driver.CAPI_CLAIM, driver.capi_claim("c"))


Twins = list[tuple[str, list[str]]]


async def _while_a_holds_the_address(locks: bool) -> tuple[Pair, Twins]:
    """``b`` serves the IPAddressClaim after ``a`` recorded 10.0.0.1 on the IPClaim and
    before ``a`` created its IPAddress."""
    api = FakeApi()
    pair = Pair(api, locks=locks)
    await _pool_and_claims(pair)
    twins = watch_for_twins(api)
    interleaved = False

    async def b_serves_c(
        verb: str, resource: resources.Resource, namespace: str, name: str
    ) -> None:
        nonlocal interleaved
        if (verb, resource, name) == ("patch", driver.IPCLAIM, "m") and not interleaved:
            interleaved = True
            await driver.deliver(pair.b, api, pair.take_b)
            await claims.reconcile(pair.b, C_CLAIM)

    api.after.append(b_serves_c)
    await driver.deliver(pair.a, api, pair.take_a)
    await claims.reconcile(pair.a, M_CLAIM)
    assert interleaved
    return pair, twins


async def _after_a_made_it_unseen_by_b(locks: bool) -> tuple[Pair, Twins]:
    """``a`` binds the IPClaim to 10.0.0.1 and is done; ``b``, whose watch has not brought
    that IPAddress yet, serves the IPAddressClaim."""
    api = FakeApi()
    pair = Pair(api, locks=locks)
    await _pool_and_claims(pair)
    twins = watch_for_twins(api)
    await driver.deliver(pair.a, api, pair.take_a)
    await claims.reconcile(pair.a, M_CLAIM)
    await claims.reconcile(pair.b, C_CLAIM)  # b's watch lags: nothing delivered
    return pair, twins


async def _in_overlapping_pools_unseen_by_b(locks: bool) -> tuple[Pair, Twins]:
    """Pools ``p`` and ``q`` of one namespace share their range (their IPAddresses have
    other names): ``a`` binds an IPClaim of ``p`` to 10.0.0.1; ``b``, whose watch has not
    brought that IPAddress yet, serves an IPAddressClaim of ``q``."""
    api = FakeApi()
    pair = Pair(api, locks=locks)
    api.put(driver.POOL, driver.pool_body("p"))
    api.put(driver.POOL, driver.pool_body("q"))
    await pair.settle()
    api.put(driver.IPCLAIM, driver.metal3_claim("m", pool="p"))
    api.put(driver.CAPI_CLAIM, driver.capi_claim("c", pool="q"))
    twins = watch_for_twins(api)
    await driver.deliver(pair.a, api, pair.take_a)
    await claims.reconcile(pair.a, M_CLAIM)
    await claims.reconcile(pair.b, C_CLAIM)  # b's watch lags: nothing delivered
    return pair, twins


RACES = [
    pytest.param(_while_a_holds_the_address, id="while-the-other-makes-it"),
    pytest.param(_after_a_made_it_unseen_by_b, id="made-but-not-yet-seen"),
    pytest.param(_in_overlapping_pools_unseen_by_b, id="overlapping-pools"),
]


Race = Callable[[bool], Awaitable[tuple[Pair, Twins]]]


@pytest.mark.parametrize("race", RACES)
def test_without_the_lock_one_address_reaches_a_claim_of_each_kind(race: Race) -> None:
    """The gap the lock closes, shown: the interleaving is real (leader election keeps it
    from happening in a default install)."""
    pair, twins = run(lambda: race(False))
    api = pair.api
    [(address, objects)] = twins
    assert address == "10.0.0.1"
    assert [kind for kind, _ in (o.split("/") for o in objects)] == [
        "ipam.cluster.x-k8s.io",
        "ipam.metal3.io",
    ]
    assert [w for w in api.writes if w[1] == "leases"] == [], "no lock taken with a leader"


def test_two_controllers_that_see_one_address_held_twice_write_one_pool_status() -> None:
    """However a twin came about (without the lock, or by hand), both instances name its
    two holders in one order: their pool status writes agree instead of undoing each other."""

    async def scenario() -> tuple[Pair, dict[str, Any] | None]:
        pair, twins = await _after_a_made_it_unseen_by_b(False)
        assert twins, "the race gave one address twice"
        await pair.settle()
        return pair, pair.api.find(driver.POOL, "ns", "p")

    _, pool = run(scenario)
    assert pool is not None
    [duplicate] = [c for c in pool["status"]["conditions"] if c["type"] == "DuplicateAddress"]
    assert duplicate["message"] == "10.0.0.1 held by capi claim c and metal3 claim m"


@pytest.mark.parametrize("race", RACES)
def test_two_controllers_without_leader_election_never_give_one_address_to_both_kinds(
    race: Race,
) -> None:
    async def scenario() -> tuple[Pair, Twins]:
        pair, twins = await race(True)
        assert twins == [], "no address is ever held by two objects, even for a moment"
        await pair.settle()
        return pair, twins

    pair, twins = run(scenario)
    api = pair.api
    assert twins == [], "nor later"
    metal3 = api.find(driver.IPCLAIM, "ns", "m")
    capi = api.find(driver.CAPI_CLAIM, "ns", "c")
    assert metal3 is not None
    assert capi is not None
    assert metal3["status"]["address"]["name"] == "p-10-0-0-1"
    assert capi["status"]["addressRef"]["name"].endswith("-10-0-0-2")
    assert sorted(a["spec"]["address"] for a in addresses(api)) == ["10.0.0.1", "10.0.0.2"]
    assert api.all(driver.LEASE) == [], "every lock given back"
    events = {e["reason"] for e in api.posted}
    assert "DuplicateAddress" not in events


def test_a_requested_address_another_controller_is_making_is_waited_for_not_refused() -> None:
    """Locked is "taken for now": a claim that can have only that address looks again."""

    async def scenario() -> tuple[FakeApi, dict[str, Any] | None, list[dict[str, Any]]]:
        api = FakeApi()
        ctx = driver.controller(api, locks=True, identity="a")
        api.put(driver.POOL, driver.pool_body())
        api.put(
            driver.LEASE,
            {
                "metadata": {
                    "name": "ipam-address.ns.10-0-0-3",
                    "namespace": driver.LOCK_NAMESPACE,
                },
                "spec": {"holderIdentity": "b/uid-9", "leaseDurationSeconds": 90},
            },
        )
        api.put(driver.IPCLAIM, driver.metal3_claim("asks", annotations={"ipAddress": "10.0.0.3"}))
        await driver.settle(ctx, api)
        waiting, made = api.find(driver.IPCLAIM, "ns", "asks"), addresses(api)
        api.user_delete(driver.LEASE, driver.LOCK_NAMESPACE, "ipam-address.ns.10-0-0-3")
        ctx.claim(context.ClaimRef("metal3", "ns", "asks"))
        await driver.settle(ctx, api)
        return api, waiting, made

    api, waiting, made = run(scenario)
    assert waiting is not None
    assert "errorMessage" not in (waiting.get("status") or {}), "not told it failed"
    assert made == [], "nothing made while another controller holds the address"
    claim = api.find(driver.IPCLAIM, "ns", "asks")
    assert claim is not None
    assert claim["status"]["address"]["name"] == "p-10-0-0-3"
    assert [a["spec"]["address"] for a in addresses(api)] == ["10.0.0.3"]


def test_a_create_without_an_answer_keeps_the_lock_until_it_expires() -> None:
    """The IPAddress may have landed: the Lease is not given back, and the other kind keeps
    away from that address meanwhile."""

    async def scenario() -> tuple[FakeApi, list[tuple[str, list[str]]]]:
        api = FakeApi()
        pair = Pair(api, locks=True)
        await _pool_and_claims(pair)
        twins = watch_for_twins(api)

        async def no_answer(
            verb: str, resource: resources.Resource, namespace: str, name: str
        ) -> None:
            if (verb, resource) == ("create", driver.M3_ADDRESS):
                raise client.Unreachable("create: connection reset")

        api.after.append(no_answer)
        await driver.deliver(pair.a, api, pair.take_a)
        with pytest.raises(client.Unreachable):
            await claims.reconcile(pair.a, M_CLAIM)
        api.after.remove(no_answer)
        assert [lease["spec"]["holderIdentity"] for lease in api.all(driver.LEASE)] == [
            f"a/{api.find(driver.IPCLAIM, 'ns', 'm')['metadata']['uid']}"  # type: ignore[index]
        ]
        await claims.reconcile(pair.b, C_CLAIM)  # b's watch lags
        await pair.settle()
        return api, twins

    api, twins = run(scenario)
    assert twins == []
    capi = api.find(driver.CAPI_CLAIM, "ns", "c")
    assert capi is not None
    assert capi["status"]["addressRef"]["name"] == "p-10-0-0-2"
    metal3 = api.find(driver.IPCLAIM, "ns", "m")
    assert metal3 is not None
    assert metal3["status"]["address"]["name"] == "p-10-0-0-1"
