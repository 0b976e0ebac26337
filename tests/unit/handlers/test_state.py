"""The in-memory registry: ledgers follow IPAddresses of both kinds, and a List can correct them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ipam.core import ledger
from ipam.handlers import state
from ipam.kube import bodies, resources


def address(
    name: str,
    ip: str,
    claim: str,
    *,
    pool: str = "pool1",
    uid: str = "u1",
    flavour: resources.Flavour = resources.METAL3,
    created: str = "2026-01-01T00:00:00Z",
) -> bodies.AddressRecord:
    spec: dict[str, Any]
    if flavour.kind == "metal3":
        spec = {"address": ip, "pool": {"name": pool}, "claim": {"name": claim}}
    else:
        spec = {
            "address": ip,
            "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool},
            "claimRef": {"name": claim},
        }
    return bodies.address_record(
        flavour,
        {
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "creationTimestamp": created},
            "spec": spec,
        },
    )


def pool(name: str, *entries: dict[str, str], prefix: str | None = None) -> bodies.PoolRecord:
    return bodies.pool_record(
        {
            "metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid"},
            "spec": {"namePrefix": prefix or name, "pools": list(entries)},
        }
    )


def test_an_observed_address_is_held_in_its_pools_ledger() -> None:
    registry = state.Registry()
    changed = registry.observe_address(address("a", "10.0.0.1", "c1"))
    book = registry.pool("ns", "pool1").book
    assert changed is registry.pool("ns", "pool1")
    assert book.held_by(ledger.ClaimKey("metal3", "c1")) == ledger.Holding(
        "10.0.0.1", ledger.ClaimKey("metal3", "c1"), "a"
    )


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


def test_a_deleted_address_frees_its_ip() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c1"))
    freed = registry.forget_address("metal3", "ns", "a", "u1")
    assert freed is registry.pool("ns", "pool1")
    assert not freed.book.is_used("10.0.0.1")


def test_the_deletion_of_an_older_incarnation_does_not_forget_the_newer_one() -> None:
    registry = state.Registry()
    registry.observe_address(address("a", "10.0.0.1", "c2", uid="new"))
    assert registry.forget_address("metal3", "ns", "a", "old") is None
    assert registry.pool("ns", "pool1").book.is_used("10.0.0.1")


def test_an_address_of_another_providers_pool_is_ignored() -> None:
    registry = state.Registry()
    body = {
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": {
            "address": "10.0.0.1",
            "poolRef": {"apiGroup": "example.com", "kind": "IPPool", "name": "pool1"},
            "claimRef": {"name": "c"},
        },
    }
    assert registry.observe_address(bodies.address_record(resources.CAPI, body)) is None
    assert registry.pool("ns", "pool1").book.used == 0


def test_a_fresh_list_drops_vanished_addresses_but_keeps_our_newest_creations() -> None:
    registry = state.Registry()
    registry.observe_address(address("gone", "10.0.0.1", "c1"))
    listed_at = time.monotonic()
    registry.observe_address(address("just-created", "10.0.0.2", "c2"))
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
    registry.observe_address(address("capi", "10.0.0.1", "c1", flavour=resources.CAPI))
    registry.replace_addresses("metal3", "ns", [], listed_at=time.monotonic())
    assert registry.pool("ns", "pool1").book.is_used("10.0.0.1")


def test_overlapping_pools_of_a_namespace_are_found() -> None:
    registry = state.Registry()
    a = registry.observe_pool(pool("a", {"start": "10.0.0.1", "end": "10.0.0.10"}))
    b = registry.observe_pool(pool("b", {"start": "10.0.0.10", "end": "10.0.0.20"}))
    c = registry.observe_pool(pool("c", {"start": "10.0.1.1", "end": "10.0.1.20"}))
    assert registry.overlapping(a) == [b]
    assert registry.overlapping(c) == []


def test_claims_remember_their_pool_and_whether_they_wait() -> None:
    registry = state.Registry()
    claim = bodies.claim_record(
        resources.METAL3,
        {"metadata": {"name": "c1", "namespace": "ns"}, "spec": {"pool": {"name": "p"}}},
    )
    registry.note_claim(claim, waiting=True)
    assert registry.pool("ns", "p").waiting() == [ledger.ClaimKey("metal3", "c1")]
    registry.note_claim(claim, waiting=False)
    assert registry.pool("ns", "p").waiting() == []
    registry.forget_claim("ns", claim.key)
    assert registry.pool("ns", "p").claims == {}


def test_a_claim_body_older_than_our_last_write_is_stale() -> None:
    registry = state.Registry()
    key = ledger.ClaimKey("metal3", "c1")
    registry.wrote_claim("ns", key, "100")
    assert registry.stale_claim("ns", key, "99")
    assert not registry.stale_claim("ns", key, "100")
    assert not registry.stale_claim("ns", ledger.ClaimKey("capi", "c1"), "1")


def test_locks_of_several_pools_are_taken_in_one_order_so_crossed_requests_do_not_deadlock() -> (
    None
):
    registry = state.Registry()
    a, b = registry.pool("ns", "a"), registry.pool("ns", "b")
    order: list[str] = []

    async def take(first: state.PoolState, second: state.PoolState, tag: str) -> None:
        async with registry.locked([first, second]):
            order.append(tag)
            await asyncio.sleep(0.01)

    async def both() -> None:
        await asyncio.wait_for(asyncio.gather(take(a, b, "ab"), take(b, a, "ba")), timeout=2)

    asyncio.run(both())
    assert sorted(order) == ["ab", "ba"]


def test_reconciles_of_one_claim_take_turns() -> None:
    registry = state.Registry()
    key = ledger.ClaimKey("metal3", "c1")
    inside = 0
    most = 0

    async def one() -> None:
        nonlocal inside, most
        async with registry.claim_turn("ns", key):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.005)
            inside -= 1

    async def many() -> None:
        await asyncio.gather(*(one() for _ in range(5)))

    asyncio.run(many())
    assert most == 1
    assert registry.claim_locks == {}


def test_a_claim_holding_two_addresses_keeps_the_oldest_whoever_saw_them_first() -> None:
    older = address("p-10-0-0-9", "10.0.0.9", "c1", uid="u9", created="2026-01-01T00:00:01Z")
    newer = address("p-10-0-0-2", "10.0.0.2", "c1", uid="u2", created="2026-01-01T00:00:02Z")
    claim = ledger.ClaimKey("metal3", "c1")
    for order in ([older, newer], [newer, older]):
        registry = state.Registry()
        for record in order:
            registry.observe_address(record)
        keep, extras = registry.pool("ns", "pool1").split_holdings(claim)
        assert keep == older
        assert extras == [newer]


def test_created_in_the_same_second_the_name_decides_which_is_kept() -> None:
    registry = state.Registry()
    registry.observe_address(address("p-b", "10.0.0.2", "c1", uid="ub"))
    registry.observe_address(address("p-a", "10.0.0.3", "c1", uid="ua"))
    keep, extras = registry.pool("ns", "pool1").split_holdings(ledger.ClaimKey("metal3", "c1"))
    assert keep is not None
    assert (keep.meta.name, [e.meta.name for e in extras]) == ("p-a", ["p-b"])


def test_a_reservation_is_taken_back_unless_its_object_was_seen() -> None:
    registry = state.Registry()
    pool_state = registry.pool("ns", "pool1")
    claim = ledger.ClaimKey("metal3", "c1")
    reserved = ledger.Holding("10.0.0.1", claim, "p-10-0-0-1")
    pool_state.book.add(reserved)
    pool_state.unreserve(reserved)
    assert not pool_state.book.is_used("10.0.0.1")

    pool_state.book.add(reserved)
    registry.observe_address(address("p-10-0-0-1", "10.0.0.1", "c1"))
    pool_state.unreserve(reserved)
    assert pool_state.book.held_by(claim) == reserved
