"""The in-memory registry: ledgers follow IPAddresses of both kinds, and a List can correct them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ipam.core import ledger
from ipam.handlers import state
from ipam.kube import bodies, resources

C1 = ledger.ClaimKey("metal3", "c1")


def address(
    name: str,
    ip: str,
    claim: str,
    *,
    pool: str = "pool1",
    uid: str = "u1",
    flavour: resources.Flavour = resources.METAL3,
    created: str = "2026-01-01T00:00:00Z",
) -> bodies.AddressFact:
    spec: dict[str, Any]
    if flavour.kind == "metal3":
        spec = {"address": ip, "pool": {"name": pool}, "claim": {"name": claim}}
    else:
        spec = {
            "address": ip,
            "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool},
            "claimRef": {"name": claim},
        }
    record = bodies.address_record(
        flavour,
        {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": uid,
                "creationTimestamp": created,
                "finalizers": [flavour.address_finalizer],
                "ownerReferences": [
                    {"kind": "IPPool", "name": pool, "uid": "p", "controller": False}
                ],
                "labels": {"b": "2", "a": "1"},
            },
            "spec": spec,
        },
    )
    return bodies.address_fact(record)


def pool(name: str, *entries: dict[str, str], prefix: str | None = None) -> bodies.PoolRecord:
    return bodies.pool_record(
        {
            "metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid"},
            "spec": {"namePrefix": prefix or name, "pools": list(entries)},
        }
    )


def test_a_fact_keeps_plain_values_only() -> None:
    fact = address("a", "FD00::0:1", "c1")
    assert fact.address == "fd00::1"
    assert fact.ours
    assert fact.owners == (("IPPool", "pool1", "p", False, False),)
    assert fact.labels == (("a", "1"), ("b", "2"))
    assert fact.identity == ("metal3", "a")


def test_an_observed_address_is_held_in_its_pools_ledger() -> None:
    registry = state.Registry()
    changed = registry.observe_address(address("a", "10.0.0.1", "c1"))
    pool_state = registry.pool("ns", "pool1")
    assert changed is pool_state
    assert pool_state.book.held_by(C1) == ledger.Holding("10.0.0.1", C1, "a")
    assert [f.name for f in pool_state.facts_of(C1)] == ["a"]


def test_observing_the_same_address_again_changes_nothing() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    assert registry.observe_address(address("a", "10.0.0.1", "c1")) is None
    assert len(registry.pool("ns", "pool1").book) == 1


def test_both_kinds_share_one_ledger_per_pool() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    registry.observe_address(address("a", "10.0.0.2", "c1", flavour=resources.CAPI))
    book = registry.pool("ns", "pool1").book
    assert book.used == 2
    assert book.held_by(ledger.ClaimKey("capi", "c1")) is not None


def test_a_deleted_address_frees_its_ip_and_an_idle_pool_state_is_dropped() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    found = registry.forget_address("metal3", "ns", "a", "u1")
    assert found is not None
    pool_state, fact = found
    assert fact.name == "a"
    assert not pool_state.book.is_used("10.0.0.1")
    registry.drop_if_idle(pool_state)
    assert registry.find_pool("ns", "pool1") is None, "nothing left to remember"


def test_the_deletion_of_an_older_incarnation_does_not_forget_the_newer_one() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1", uid="new"))
    assert registry.forget_address("metal3", "ns", "a", "old") is None
    assert registry.pool("ns", "pool1").book.is_used("10.0.0.1")


def test_an_address_of_another_providers_pool_is_ignored() -> None:
    record = bodies.address_record(
        resources.CAPI,
        {
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {
                "address": "10.0.0.1",
                "poolRef": {"apiGroup": "other.io", "kind": "Pool", "name": "pool1"},
                "claimRef": {"name": "c"},
            },
        },
    )
    registry = state.Registry()
    assert registry.observe_address(bodies.address_fact(record)) is None
    assert not registry.pools


def test_a_fresh_list_drops_vanished_addresses_but_keeps_those_seen_since() -> None:
    registry = state.Registry()
    registry.observe_address(address("old", "10.0.0.1", "c1"))
    listed_at = time.monotonic()
    registry.observe_address(address("newest", "10.0.0.2", "c2"))
    changed = registry.replace_addresses(
        "metal3", "ns", [address("listed", "10.0.0.3", "c3")], listed_at=listed_at
    )
    book = registry.pool("ns", "pool1").book
    assert changed == {("ns", "pool1")}
    assert not book.is_used("10.0.0.1")
    assert book.is_used("10.0.0.2")
    assert book.is_used("10.0.0.3")


def test_a_list_of_one_kind_leaves_the_other_kind_alone() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1", flavour=resources.CAPI))
    registry.replace_addresses("metal3", "ns", [], listed_at=time.monotonic() + 1)
    assert registry.pool("ns", "pool1").book.is_used("10.0.0.1")


def test_overlapping_and_name_clashing_pools_of_a_namespace_are_found_both_ways() -> None:
    registry = state.Registry()
    a = registry.observe_pool(pool("a", {"start": "10.0.0.1", "end": "10.0.0.9"}))
    b = registry.observe_pool(pool("b", {"start": "10.0.0.5", "end": "10.0.0.20"}))
    c = registry.observe_pool(pool("c", {"start": "10.9.0.1", "end": "10.9.0.9"}, prefix="a"))
    assert registry.overlapping(a) == [b]
    assert registry.overlapping(b) == [a]
    assert registry.overlapping(c) == []
    assert registry.name_clashing(a) == [c]
    assert registry.name_clashing(c) == [a]
    assert registry.name_clashing(b) == []


def test_a_reservation_holds_an_address_until_taken_back_and_its_object_replaces_it() -> None:
    registry = state.Registry()
    pool_state = registry.pool("ns", "pool1")
    reserved = ledger.Holding("10.0.0.1", C1, "a")
    pool_state.reserve(reserved)
    assert pool_state.book.is_used("10.0.0.1")
    assert pool_state.facts_of(C1) == [], "a reservation is no object"
    pool_state.unreserve(reserved)
    assert not pool_state.book.is_used("10.0.0.1")
    pool_state.reserve(reserved)
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    pool_state.unreserve(reserved)
    assert pool_state.book.is_used("10.0.0.1"), "the object that arrived stays"
    assert len(pool_state.book) == 1


def test_forgetting_a_claim_drops_its_reservations_and_waits_but_not_its_objects() -> None:
    registry = state.Registry()
    pool_state = registry.pool("ns", "pool1")
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    pool_state.reserve(ledger.Holding("10.0.0.2", C1, "b"))
    pool_state.waiting.add(C1)
    pool_state.first_unbound[C1] = 1.0
    registry.wrote_claim("ns", C1, "7")
    registry.forget_claim("ns", C1)
    assert pool_state.book.is_used("10.0.0.1")
    assert not pool_state.book.is_used("10.0.0.2")
    assert not pool_state.waiting
    assert not pool_state.first_unbound
    assert not registry.stale_claim("ns", C1, "3")


def test_a_claim_body_older_than_our_last_write_is_stale() -> None:
    registry = state.Registry()
    registry.wrote_claim("ns", C1, "10")
    assert registry.stale_claim("ns", C1, "9")
    assert not registry.stale_claim("ns", C1, "10")
    assert not registry.stale_claim("ns", C1, "11")


def test_a_claim_body_as_new_as_our_write_forgets_the_write_so_nothing_stays_per_claim() -> None:
    registry = state.Registry()
    registry.wrote_claim("ns", C1, "10")
    assert registry.stale_claim("ns", C1, "9")
    assert registry.claim_writes
    assert not registry.stale_claim("ns", C1, "10")
    assert not registry.claim_writes


def test_locks_of_several_pools_are_taken_in_one_order_so_crossed_requests_do_not_deadlock() -> (
    None
):
    registry = state.Registry()
    a, b = registry.pool("ns", "a"), registry.pool("ns", "b")
    order: list[str] = []

    async def take(first: state.PoolState, second: state.PoolState, name: str) -> None:
        async with registry.locked([first, second]):
            order.append(name)
            await asyncio.sleep(0.01)

    async def both() -> None:
        await asyncio.wait_for(asyncio.gather(take(a, b, "ab"), take(b, a, "ba")), timeout=5)

    asyncio.run(both())
    assert sorted(order) == ["ab", "ba"]


def test_a_cluster_change_is_reported_only_when_pausing_changes() -> None:
    registry = state.Registry()
    running = bodies.cluster_record({"metadata": {"name": "c", "namespace": "ns"}, "spec": {}})
    paused = bodies.cluster_record(
        {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"paused": True}}
    )
    assert registry.observe_cluster(running)
    assert not registry.observe_cluster(running)
    assert registry.observe_cluster(paused)


def test_every_table_keyed_by_an_address_object_shares_the_facts_identity() -> None:
    """One tuple per IPAddress for all tables: 10,000 addresses must not cost five each."""
    registry = state.Registry()
    fact = address("a", "10.0.0.1", "c1")
    registry.observe_address(fact)
    pool_state = registry.pool("ns", "pool1")
    (facts_key,) = pool_state.facts
    (seen_key,) = pool_state.seen_at
    ((_, pool_key),) = registry.address_pool
    assert facts_key is fact.identity
    assert seen_key is fact.identity
    assert pool_key is fact.identity
    assert pool_state.book.object(fact.identity) is fact.holding
    assert fact.holding.identity is fact.identity
    assert fact.claim is fact.holding.claim


def _owned(name: str, claim: str, pool_uid: str = "p") -> bodies.AddressFact:
    record = bodies.address_record(
        resources.METAL3,
        {
            "metadata": {
                "name": name,
                "namespace": "ns",
                "uid": f"{name}-uid",
                "ownerReferences": [
                    {"kind": "IPPool", "name": "pool1", "uid": pool_uid, "controller": False},
                    {"kind": "IPClaim", "name": claim, "uid": f"{claim}-uid", "controller": True},
                ],
                "labels": {"cluster.x-k8s.io/cluster-name": "c"},
            },
            "spec": {"address": "10.0.0.1", "pool": {"name": "pool1"}, "claim": {"name": claim}},
        },
    )
    return bodies.address_fact(record)


def test_addresses_of_one_pool_share_the_pools_owner_reference_and_their_labels() -> None:
    a, b = _owned("a", "c1"), _owned("b", "c2")
    assert a.owners[0] == b.owners[0] == ("IPPool", "pool1", "p", False, False)
    assert a.owners[0] is b.owners[0]
    assert a.labels is b.labels
    assert a.owners[1] == ("IPClaim", "c1", "c1-uid", True, False)
    assert a.owners[1] != b.owners[1]
    assert a.owners[1][1] is a.claim_name


def test_the_table_of_shared_tuples_stays_bounded() -> None:
    for at in range(bodies.SHARED_TUPLES + 10):
        _owned(f"a{at}", f"c{at}", pool_uid=f"p{at}")
    assert 0 < len(bodies._TUPLES) <= bodies.SHARED_TUPLES
