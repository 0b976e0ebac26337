"""The allocation view: the pool's holdings plus what others hold inside its ranges."""

from __future__ import annotations

import pytest

from ipam.core import ledger, names, pools, view

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("capi", "bob")
POOL = pools.Pool.from_spec(
    {"namePrefix": "p", "pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]}
)


def test_without_others_the_view_is_the_ledger_itself() -> None:
    book = ledger.Ledger([ledger.Holding("10.0.0.1", ALICE, "p-10-0-0-1")])
    assert view.allocation_view(book, POOL, []) is book


def test_an_overlapping_pools_holding_inside_the_ranges_is_used_in_the_view_only() -> None:
    book = ledger.Ledger()
    other = ledger.Ledger(
        [
            ledger.Holding("10.0.0.2", BOB, "q-10-0-0-2"),
            ledger.Holding("10.9.0.1", BOB, "q-10-9-0-1"),
        ]
    )
    seen = view.allocation_view(book, POOL, [("q", other)])
    assert seen.is_used("10.0.0.2")
    assert not seen.is_used("10.9.0.1"), "outside this pool's ranges: not this pool's business"
    assert not book.is_used("10.0.0.2")
    holder = seen.holder_of("10.0.0.2")
    assert holder is not None
    assert holder.claim.name.startswith("\0"), "an outsider never equals a real claim"


def test_blocked_names_are_used_in_the_view() -> None:
    blocked = view.outsider("10.0.0.3", "q", BOB, "p-10-0-0-3")
    seen = view.allocation_view(ledger.Ledger(), POOL, [], [blocked])
    assert seen.is_used("10.0.0.3")


@pytest.mark.parametrize(
    ("prefix", "address"),
    [("p", "10.0.0.1"), ("p", "fd00::1"), ("p", "fd00::"), ("p-1", "2001:db8::5"), ("a.b", "::")],
)
def test_address_of_name_inverts_address_object_name(prefix: str, address: str) -> None:
    assert names.address_of_name(prefix, names.address_object_name(prefix, address)) == address


@pytest.mark.parametrize("name", ["q-10-0-0-1", "p-10-0-0", "p-zz", "pp", "p-10-0-0-1-5-6-7-8-9"])
def test_names_no_address_of_the_prefix_gives_none(name: str) -> None:
    assert names.address_of_name("p", name) is None


def test_an_outsider_keeps_the_kind_and_marks_pool_claim_and_object() -> None:
    holding = view.outsider("10.0.0.4", "q", BOB, "q-10-0-0-4")
    assert holding == ledger.Holding("10.0.0.4", ledger.ClaimKey("capi", "\0q/bob"), "\0q-10-0-0-4")


def test_an_overlapping_pools_holding_is_named_after_that_pool_and_its_object() -> None:
    other = ledger.Ledger([ledger.Holding("10.0.0.2", BOB, "q-10-0-0-2")])
    holder = view.allocation_view(ledger.Ledger(), POOL, [("q", other)]).holder_of("10.0.0.2")
    assert holder == view.outsider("10.0.0.2", "q", BOB, "q-10-0-0-2")


def test_an_address_the_pool_holds_itself_is_not_doubled_by_an_overlapping_pool() -> None:
    book = ledger.Ledger([ledger.Holding("10.0.0.2", ALICE, "p-10-0-0-2")])
    other = ledger.Ledger([ledger.Holding("10.0.0.2", BOB, "q-10-0-0-2")])
    seen = view.allocation_view(book, POOL, [("q", other)])
    assert seen is book, "nothing added: the pool's own holding already marks the address"
    assert seen.holders_of("10.0.0.2") == [ledger.Holding("10.0.0.2", ALICE, "p-10-0-0-2")]
