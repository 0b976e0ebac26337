"""The ledger: holdings of both claim kinds, indexed both ways, anomalies kept in sight."""

from __future__ import annotations

import pytest

from ipam.core import addresses, ledger

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("metal3", "bob")
ALICE_CAPI = ledger.ClaimKey("capi", "alice")


def holding(address: str, claim: ledger.ClaimKey) -> ledger.Holding:
    """An object per claim and address (two pools' objects may record one address)."""
    return ledger.Holding(
        address, claim, f"{claim.name}-{address.replace('.', '-').replace(':', '-')}"
    )


def test_an_added_holding_is_found_by_address_and_by_claim() -> None:
    book = ledger.Ledger()
    held = holding("10.0.0.1", ALICE)
    book.add(held)
    assert book.held_by(ALICE) == held
    assert book.holder_of("10.0.0.1") == held
    assert book.is_used("10.0.0.1")
    assert book.used == 1
    assert addresses.key_of("10.0.0.1") in book.used_keys


def test_adding_the_same_holding_twice_changes_nothing() -> None:
    book = ledger.Ledger()
    book.add(holding("10.0.0.1", ALICE))
    book.add(holding("10.0.0.1", ALICE))
    assert book.used == 1
    assert len(book) == 1
    assert book.conflicts() == []


def test_a_second_claim_on_an_address_is_a_conflict_not_an_overwrite() -> None:
    first, second = holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB)
    book = ledger.Ledger([first, second])
    assert book.holder_of("10.0.0.1") == first
    assert book.held_by(BOB) == second
    assert book.conflicts() == [(first, second)]
    assert book.used == 1
    assert len(book) == 2


def test_removing_the_first_holder_of_a_conflict_keeps_the_address_used() -> None:
    first, second = holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB)
    book = ledger.Ledger([first, second])
    book.remove(first)
    assert book.holder_of("10.0.0.1") == second
    assert book.is_used("10.0.0.1")
    assert addresses.key_of("10.0.0.1") in book.used_keys
    assert book.conflicts() == []


def test_metal3_and_capi_claims_of_one_name_are_different_claims() -> None:
    metal3, capi = holding("10.0.0.1", ALICE), holding("10.0.0.2", ALICE_CAPI)
    book = ledger.Ledger([metal3, capi])
    assert book.held_by(ALICE) == metal3
    assert book.held_by(ALICE_CAPI) == capi
    assert book.used == 2


def test_both_kinds_on_one_address_are_a_conflict() -> None:
    book = ledger.Ledger([holding("10.0.0.1", ALICE), holding("10.0.0.1", ALICE_CAPI)])
    assert len(book.conflicts()) == 1


def test_a_claim_holding_two_addresses_is_reported() -> None:
    first, second = holding("10.0.0.1", ALICE), holding("10.0.0.2", ALICE)
    book = ledger.Ledger([first, second])
    assert book.held_by(ALICE) == first
    assert book.claims_holding_several() == [(first, second)]
    assert book.used == 2


def test_a_removed_address_is_free_again() -> None:
    held = holding("10.0.0.1", ALICE)
    book = ledger.Ledger([held])
    book.remove(held)
    assert not book.is_used("10.0.0.1")
    assert book.held_by(ALICE) is None
    assert book.used == 0
    assert not book.used_keys


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(ledger.Holding("10.0.0.2", ALICE, "alice-10-0-0-1"), id="other-address"),
        pytest.param(ledger.Holding("10.0.0.1", BOB, "alice-10-0-0-1"), id="other-claim"),
        pytest.param(ledger.Holding("10.0.0.1", ALICE, "pfx-other"), id="other-object"),
        pytest.param(ledger.Holding("garbage", ALICE, "alice-10-0-0-1"), id="garbage-address"),
    ],
)
def test_removing_what_is_not_recorded_changes_nothing(other: ledger.Holding) -> None:
    book = ledger.Ledger([holding("10.0.0.1", ALICE)])
    book.remove(other)
    assert book.held_by(ALICE) is not None
    assert book.used == 1


def test_addresses_are_compared_by_value_not_by_spelling() -> None:
    book = ledger.Ledger([ledger.Holding("FD00:0::1", ALICE, "pfx-fd00--1")])
    assert book.is_used("fd00::1")
    held = book.held_by(ALICE)
    assert held is not None
    assert held.address == "fd00::1"
    book.remove(ledger.Holding("fd00:0:0:0:0:0:0:1", ALICE, "pfx-fd00--1"))
    assert book.used == 0


def test_an_unparsable_address_is_recorded_but_takes_no_key() -> None:
    book = ledger.Ledger([ledger.Holding("not-an-ip", ALICE, "pfx-x")])
    assert book.is_used("not-an-ip")
    assert book.used == 1
    assert not book.used_keys


def test_release_forgets_every_address_of_a_claim() -> None:
    book = ledger.Ledger([holding("10.0.0.1", ALICE), holding("10.0.0.2", ALICE)])
    released = book.release(ALICE)
    assert [h.address for h in released] == ["10.0.0.1", "10.0.0.2"]
    assert book.used == 0


def test_holdings_lists_every_holding_including_conflicts() -> None:
    everything = [holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB), holding("10.0.0.3", ALICE)]
    assert sorted(ledger.Ledger(everything).holdings(), key=repr) == sorted(everything, key=repr)


def test_two_objects_of_one_claim_are_two_holdings() -> None:
    book = ledger.Ledger([ledger.Holding("10.0.0.1", ALICE, "old")])
    book.add(ledger.Holding("10.0.0.1", ALICE, "new"))
    assert len(book) == 2
    assert book.used == 1
    assert book.conflicts() == []
    assert [h.object_name for h in book.holdings_of(ALICE)] == ["old", "new"]


def test_removing_one_of_two_objects_of_one_claim_and_address_keeps_the_holding() -> None:
    kept, twin = (
        ledger.Holding("10.0.0.1", ALICE, "kept"),
        ledger.Holding("10.0.0.1", ALICE, "twin"),
    )
    book = ledger.Ledger([kept, twin])
    book.remove(twin)
    assert book.held_by(ALICE) == kept
    assert book.is_used("10.0.0.1")
    assert book.used == 1
    assert len(book) == 1


def test_an_object_recorded_again_replaces_what_it_said_before() -> None:
    book = ledger.Ledger([ledger.Holding("10.0.0.1", ALICE, "obj")])
    book.add(ledger.Holding("10.0.0.2", BOB, "obj"))
    assert book.held_by(ALICE) is None
    assert not book.is_used("10.0.0.1")
    assert book.holder_of("10.0.0.2") == ledger.Holding("10.0.0.2", BOB, "obj")
    assert len(book) == 1


def test_objects_of_both_kinds_may_share_a_name() -> None:
    metal3 = ledger.Holding("10.0.0.1", ALICE, "same")
    capi = ledger.Holding("10.0.0.2", ALICE_CAPI, "same")
    book = ledger.Ledger([metal3, capi])
    assert len(book) == 2
    book.remove_object(("capi", "same"))
    assert book.held_by(ALICE) == metal3
    assert book.held_by(ALICE_CAPI) is None


def test_copy_is_independent() -> None:
    book = ledger.Ledger([holding("10.0.0.1", ALICE)])
    twin = book.copy()
    twin.remove(holding("10.0.0.1", ALICE))
    assert book.is_used("10.0.0.1")


def test_an_object_is_found_by_its_kind_and_name() -> None:
    metal3 = ledger.Holding("10.0.0.1", ALICE, "same")
    capi = ledger.Holding("10.0.0.2", ALICE_CAPI, "same")
    book = ledger.Ledger([metal3, capi])
    assert book.object(("metal3", "same")) == metal3
    assert book.object(("capi", "same")) == capi
    assert book.object(("metal3", "other")) is None


def test_every_holder_of_a_shared_address_is_listed_first_seen_first() -> None:
    first, second = holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB)
    book = ledger.Ledger([first, second])
    assert book.holders_of("10.0.0.1") == [first, second]
    assert book.holders_of("10.0.0.2") == []


def test_removing_an_unknown_object_returns_none_and_keeps_the_rest() -> None:
    kept = holding("10.0.0.1", ALICE)
    book = ledger.Ledger([kept])
    assert book.remove_object(("metal3", "nobody")) is None
    assert book.holders_of("10.0.0.1") == [kept]


def test_removing_a_later_holder_of_a_shared_address_keeps_the_others_in_order() -> None:
    first, second, third = (holding("10.0.0.1", c) for c in (ALICE, BOB, ALICE_CAPI))
    book = ledger.Ledger([first, second, third])
    book.remove_object(third.identity)
    assert book.holders_of("10.0.0.1") == [first, second]
    assert book.conflicts() == [(first, second)]


def test_a_resolved_conflict_leaves_no_empty_anomaly_list_behind() -> None:
    # The ledger lives as long as its pool: what a release empties must not stay allocated.
    first, second = holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB)
    book = ledger.Ledger([first, second])
    book.remove_object(second.identity)
    assert book._more_by_address == {}
    assert book.holders_of("10.0.0.1") == [first]


def test_compacting_after_releases_changes_no_answer_and_editing_goes_on() -> None:
    book = ledger.Ledger(
        holding(f"10.0.1.{n}", ledger.ClaimKey("metal3", f"c{n}")) for n in range(50)
    )
    shared, again = holding("10.0.0.1", ALICE), holding("10.0.0.1", BOB)
    second = holding("10.0.0.2", ALICE)
    for held in (shared, again, second):
        book.add(held)
    for n in range(50):
        book.release(ledger.ClaimKey("metal3", f"c{n}"))
    book.compact()
    assert len(book) == 3
    assert book.used == 2
    assert sorted(book.holdings(), key=lambda h: h.object_name) == sorted(
        [shared, again, second], key=lambda h: h.object_name
    )
    assert book.holders_of("10.0.0.1") == [shared, again]
    assert book.holdings_of(ALICE) == [shared, second]
    assert book.held_by(BOB) == again
    assert book.conflicts() == [(shared, again)]
    assert book.claims_holding_several() == [(shared, second)]
    assert book.object(again.identity) == again
    assert addresses.key_of("10.0.1.7") not in book.used_keys
    book.remove(shared)
    book.add(holding("10.0.0.3", BOB))
    assert book.holder_of("10.0.0.1") == again
    assert book.conflicts() == []
    assert book.claims_holding_several() == [(again, holding("10.0.0.3", BOB))]
