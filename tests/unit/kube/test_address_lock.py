"""Address Leases: taken by a create, given back by a conditional delete, taken over only
after their holder let the same version stand for its whole duration on our own clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ipam.kube import address_lock, client, resources
from tests.unit.handlers.fakeapi import FakeApi

NS = "metal3-ipam-system"
NAME = "ipam-address.ns.10-0-0-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=10))


def locks(api: FakeApi, clock: Clock, identity: str = "me") -> address_lock.Locks:
    return address_lock.Locks(api, NS, identity, clock=clock)


def lease_of(holder: str, duration: int = 90) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration},
    }


def test_a_free_address_is_locked_for_the_claim_and_given_back() -> None:
    async def scenario() -> tuple[address_lock.Held | address_lock.Busy, Any, Any]:
        api, clock = FakeApi(), Clock()
        mine = locks(api, clock)
        held = await mine.acquire("ns", "10.0.0.1", "uid-7")
        stored = api.find(resources.LEASE, NS, NAME)
        assert isinstance(held, address_lock.Held)
        await mine.release(held)
        return held, stored, api.find(resources.LEASE, NS, NAME)

    held, stored, after = run(scenario)
    assert isinstance(held, address_lock.Held)
    assert stored["spec"]["holderIdentity"] == "me/uid-7"
    assert stored["spec"]["leaseDurationSeconds"] == 90
    assert stored["spec"]["acquireTime"]
    assert stored["metadata"]["labels"] == {
        address_lock.LOCK_LABEL: "address",
        address_lock.POOL_NAMESPACE_LABEL: "ns",
    }
    assert after is None


def test_a_lock_held_by_another_is_busy_until_it_stood_unchanged_for_its_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> list[Any]:
        api, clock = FakeApi(), Clock()
        api.put(resources.LEASE, lease_of("dead/uid-1", duration=30))
        mine = locks(api, clock)
        seen: list[Any] = [await mine.acquire("ns", "10.0.0.1", "uid-7")]
        clock.now += 29.0
        seen.append(await mine.acquire("ns", "10.0.0.1", "uid-7"))
        clock.now += 1.0
        seen.append(await mine.acquire("ns", "10.0.0.1", "uid-7"))
        seen.append(api.find(resources.LEASE, NS, NAME))
        return seen

    with caplog.at_level(logging.WARNING, logger="ipam.lock"):
        first, before_expiry, taken, stored = run(scenario)
    assert isinstance(first, address_lock.Busy)
    assert first.holder == "dead/uid-1"
    assert isinstance(before_expiry, address_lock.Busy)
    assert isinstance(taken, address_lock.Held)
    assert stored["spec"]["holderIdentity"] == "me/uid-7"
    assert stored["spec"]["leaseTransitions"] == 1
    assert "dead/uid-1 did not give it back within 30s; taken over" in caplog.text


def test_a_lock_that_changes_is_timed_again_from_its_new_version() -> None:
    """Timed on our own clock from when a version was first seen: a holder's clock, or the
    times it writes, are never compared with ours."""

    async def scenario() -> list[Any]:
        api, clock = FakeApi(), Clock()
        api.put(resources.LEASE, lease_of("other/uid-1", duration=30))
        mine = locks(api, clock)
        seen: list[Any] = [await mine.acquire("ns", "10.0.0.1", "uid-7")]
        clock.now += 20.0
        await api.replace(resources.LEASE, NS, NAME, lease_of("other/uid-2", duration=30))
        seen.append(await mine.acquire("ns", "10.0.0.1", "uid-7"))
        clock.now += 20.0
        seen.append(await mine.acquire("ns", "10.0.0.1", "uid-7"))
        clock.now += 10.0
        seen.append(await mine.acquire("ns", "10.0.0.1", "uid-7"))
        return seen

    first, changed, not_yet, taken = run(scenario)
    assert isinstance(first, address_lock.Busy)
    assert isinstance(changed, address_lock.Busy)
    assert changed.holder == "other/uid-2"
    assert isinstance(not_yet, address_lock.Busy), "40 s since the first sight, 20 since the new"
    assert isinstance(taken, address_lock.Held)


def test_a_lock_taken_over_is_not_given_back_by_its_former_holder() -> None:
    async def scenario() -> Any:
        api, clock = FakeApi(), Clock()
        slow = locks(api, clock, identity="slow")
        held = await slow.acquire("ns", "10.0.0.1", "uid-1")
        assert isinstance(held, address_lock.Held)
        other = locks(api, clock, identity="other")
        assert isinstance(await other.acquire("ns", "10.0.0.1", "uid-2"), address_lock.Busy)
        clock.now += 90.0
        assert isinstance(await other.acquire("ns", "10.0.0.1", "uid-2"), address_lock.Held)
        await slow.release(held)
        return api.find(resources.LEASE, NS, NAME)

    stored = run(scenario)
    assert stored is not None
    assert stored["spec"]["holderIdentity"] == "other/uid-2"


def test_a_lock_left_by_the_same_claim_of_this_instance_is_taken_back_at_once() -> None:
    """Left on purpose when a create got no answer: the claim's next try may go on."""

    async def scenario() -> Any:
        api, clock = FakeApi(), Clock()
        mine = locks(api, clock)
        assert isinstance(await mine.acquire("ns", "10.0.0.1", "uid-7"), address_lock.Held)
        again = await mine.acquire("ns", "10.0.0.1", "uid-7")
        other_claim = await mine.acquire("ns", "10.0.0.1", "uid-8")
        return again, other_claim

    again, other_claim = run(scenario)
    assert isinstance(again, address_lock.Held)
    assert isinstance(other_claim, address_lock.Busy)


def test_a_lock_given_back_between_our_create_and_our_read_is_taken() -> None:
    class Vanishing(FakeApi):
        async def get(self, resource: resources.Resource, namespace: str, name: str) -> Any:
            if resource == resources.LEASE and not getattr(self, "vanished", False):
                self.vanished = True
                self.remove_outright(resource, namespace, name)
            return await super().get(resource, namespace, name)

    async def scenario() -> Any:
        api, clock = Vanishing(), Clock()
        api.put(resources.LEASE, lease_of("quick/uid-1"))
        return await locks(api, clock).acquire("ns", "10.0.0.1", "uid-7")

    assert isinstance(run(scenario), address_lock.Held)


def test_the_protected_write_is_sent_only_early_in_the_duration() -> None:
    clock = Clock()
    mine = locks(FakeApi(), clock)
    held = address_lock.Held(NAME, "uid", "1", since=clock.now)
    clock.now += 29.9
    assert mine.in_time(held)
    clock.now += 0.2
    assert not mine.in_time(held)


def test_a_lock_that_cannot_be_given_back_is_left_to_expire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(FakeApi):
        async def delete(self, *args: Any, **kwargs: Any) -> Any:
            raise client.Unreachable("delete: no answer")

    async def scenario() -> Any:
        api, clock = Failing(), Clock()
        mine = locks(api, clock)
        held = await mine.acquire("ns", "10.0.0.1", "uid-7")
        assert isinstance(held, address_lock.Held)
        await mine.release(held)
        return api.find(resources.LEASE, NS, NAME)

    with caplog.at_level(logging.WARNING, logger="ipam.lock"):
        stored = run(scenario)
    assert stored is not None
    assert "not given back (delete: no answer); it expires in 90s" in caplog.text


def test_a_lock_kept_for_a_create_without_an_answer_goes_once_it_has_expired() -> None:
    async def scenario() -> list[Any]:
        api = FakeApi()
        mine = address_lock.Locks(api, NS, "me", duration=0.2)
        kept = await mine.acquire("ns", "10.0.0.1", "uid-7")
        taken_over = await mine.acquire("ns", "10.0.0.2", "uid-8")
        assert isinstance(kept, address_lock.Held)
        assert isinstance(taken_over, address_lock.Held)
        mine.release_when_expired(kept)
        mine.release_when_expired(taken_over)
        other = "ipam-address.ns.10-0-0-2"
        current = api.find(resources.LEASE, NS, other)
        assert current is not None
        current["spec"]["holderIdentity"] = "other/uid-9"
        await api.replace(resources.LEASE, NS, other, current)  # as a takeover does
        await asyncio.sleep(0.1)
        seen = [api.find(resources.LEASE, NS, NAME) is not None]
        await asyncio.sleep(0.3)
        seen.append(api.find(resources.LEASE, NS, NAME) is not None)
        stored = api.find(resources.LEASE, NS, other)
        seen.append(stored["spec"]["holderIdentity"] if stored else None)
        return seen

    during, after, other_holder = run(scenario)
    assert during, "kept while a create under it may still land"
    assert not after, "given back once expired"
    assert other_holder == "other/uid-9", "a lock taken over meanwhile is not ours to give back"


def test_a_lock_the_rbac_refuses_says_which_grant_is_missing() -> None:
    class Refusing(FakeApi):
        async def create(self, *args: Any, **kwargs: Any) -> Any:
            raise client.KubeError("leases is forbidden (HTTP 403)", status=403)

    async def scenario() -> None:
        await locks(Refusing(), Clock()).acquire("ns", "10.0.0.1", "uid-7")

    with pytest.raises(client.KubeError) as refused:
        run(scenario)
    assert refused.value.status == 403
    assert str(refused.value) == (
        f"cannot take the address lock {NS}/{NAME}: leases is forbidden (HTTP 403). Without "
        f"leader election every instance needs get, create, update and delete on leases in {NS} "
        "(config/rbac/leader_election_role.yaml)."
    )
