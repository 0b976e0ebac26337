"""The allocation decision: rule order, upstream texts, the two closed hazards, strategies."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from ipam.core import allocate, errors, ledger, pools, ranges

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("metal3", "bob")
ALICE_CAPI = ledger.ClaimKey("capi", "alice")


def pool_of(**spec: Any) -> pools.Pool:
    return pools.Pool.from_spec({"namePrefix": "pfx", **spec})


def book_of(*held: tuple[str, ledger.ClaimKey]) -> ledger.Ledger:
    return ledger.Ledger(ledger.Holding(a, c, f"obj-{c.name}-{a}") for a, c in held)


def ask(
    pool: pools.Pool,
    book: ledger.Ledger,
    claim: ledger.ClaimKey = ALICE,
    requested: str | None = None,
    **options: Any,
) -> allocate.Allocation:
    return allocate.allocate(pool, book, allocate.ClaimRequest(claim, requested), **options)


TEN = [{"start": "10.0.0.10", "end": "10.0.0.19"}]


# -- sequential ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        pytest.param([], "10.0.0.10", id="empty-pool-gives-the-first-address"),
        pytest.param(["10.0.0.10", "10.0.0.11"], "10.0.0.12", id="next-after-used"),
        pytest.param(["10.0.0.10", "10.0.0.12"], "10.0.0.11", id="lowest-hole-first"),
        pytest.param([f"10.0.0.{i}" for i in range(10, 19)], "10.0.0.19", id="last-one-left"),
    ],
)
def test_sequential_gives_the_lowest_free_address(used: list[str], expected: str) -> None:
    book = book_of(*((a, ledger.ClaimKey("metal3", f"c{i}")) for i, a in enumerate(used)))
    assert ask(pool_of(pools=TEN), book).details.address == expected


def test_entries_are_used_in_list_order_and_spill_over() -> None:
    pool = pool_of(
        pools=[
            {"start": "10.0.1.5", "end": "10.0.1.6", "prefix": 24},
            {"start": "10.0.0.1", "end": "10.0.0.9", "prefix": 16},
        ]
    )
    book = book_of(("10.0.1.5", BOB), ("10.0.1.6", ledger.ClaimKey("capi", "carol")))
    allocation = ask(pool, book)
    assert allocation.details.address == "10.0.0.1"
    assert allocation.details.prefix == 16


def test_the_gateway_is_not_skipped_in_a_subnet_only_entry() -> None:
    pool = pool_of(pools=[{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}])
    assert ask(pool, book_of()).details.address == "10.0.0.1"


def test_the_allocation_carries_details_and_object_name() -> None:
    pool = pools.Pool.from_spec(
        {
            "namePrefix": "pool1-prov",
            "pools": [{"start": "192.168.0.10", "end": "192.168.0.50"}],
            "prefix": 24,
            "gateway": "192.168.0.1",
            "dnsServers": ["8.8.8.8"],
        }
    )
    book = book_of(*((f"192.168.0.{i}", ledger.ClaimKey("metal3", f"c{i}")) for i in range(10, 13)))
    assert ask(pool, book) == allocate.Allocation(
        details=pools.AddressDetails("192.168.0.13", 24, "192.168.0.1", ("8.8.8.8",)),
        object_name="pool1-prov-192-168-0-13",
        rebound=False,
    )


def test_allocate_does_not_touch_the_ledger() -> None:
    book = book_of()
    ask(pool_of(pools=TEN), book)
    assert book.used == 0


def test_a_full_pool_is_exhausted_with_the_pool_exhausted_reason() -> None:
    book = book_of(*((f"10.0.0.{i}", ledger.ClaimKey("metal3", f"c{i}")) for i in range(10, 20)))
    with pytest.raises(errors.PoolExhausted) as caught:
        ask(pool_of(pools=TEN), book)
    assert caught.value.message == "Exhausted IP Pools"
    assert caught.value.reason == "PoolExhausted"


@pytest.mark.parametrize("spec", [{"pools": []}, {}], ids=["no-entries", "no-pools-field"])
def test_a_pool_without_entries_is_exhausted(spec: dict[str, Any]) -> None:
    with pytest.raises(errors.PoolExhausted):
        ask(pool_of(**spec), book_of())


# -- invalid entries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_entry", "problem"),
    [
        pytest.param(
            {"start": "10.0.0.1", "end": "fd00::1"},
            "spec.pools[0].end: end fd00::1 and start 10.0.0.1 are of different IP families",
            id="start-ipv4-end-ipv6",
        ),
        pytest.param(
            {"start": "10.0.0.9", "end": "10.0.0.1"},
            "spec.pools[0].end: end 10.0.0.1 is before start 10.0.0.9",
            id="start-after-end",
        ),
        pytest.param(
            {"subnet": "10.0.0.0/24", "prefix": 33},
            "spec.pools[0].prefix: prefix 33 is longer than 32, the longest IPv4 prefix",
            id="ipv4-prefix-33",
        ),
        pytest.param(
            {"end": "10.0.0.5"},
            "spec.pools[0]: has only end, which counts only with start or subnet: "
            "it produces no addresses",
            id="end-only",
        ),
        pytest.param(
            {**TEN[0], "prefix": -1},
            "spec.pools[0].prefix: -1 is not between 0 and 128",
            id="negative-prefix",
        ),
        pytest.param(
            {**TEN[0], "prefix": 129},
            "spec.pools[0].prefix: 129 is not between 0 and 128",
            id="prefix-129",
        ),
    ],
)
@pytest.mark.parametrize("requested", [None, "10.0.0.5"], ids=["next-free", "requested"])
@pytest.mark.parametrize("claim", [ALICE, ALICE_CAPI], ids=["metal3", "capi"])
def test_a_pool_whose_only_entry_is_invalid_hands_out_nothing_and_says_why(
    bad_entry: dict[str, Any], problem: str, requested: str | None, claim: ledger.ClaimKey
) -> None:
    with pytest.raises(errors.PoolInvalid) as caught:
        ask(pool_of(pools=[bad_entry]), book_of(), claim=claim, requested=requested)
    assert caught.value.message == (f"Invalid IP pool, no entry can hand out addresses: {problem}")
    assert caught.value.reason == "PoolNotReady"
    assert "Exhausted" not in caught.value.message


def test_a_pre_allocated_claim_of_an_invalid_pool_is_told_the_pool_is_invalid() -> None:
    pool = pool_of(
        pools=[{"start": "10.0.0.9", "end": "10.0.0.1"}], preAllocations={"alice": "10.0.0.5"}
    )
    with pytest.raises(errors.PoolInvalid):
        ask(pool, book_of())


def test_an_invalid_entry_is_skipped_and_the_next_entry_serves() -> None:
    pool = pool_of(
        prefix=33,
        pools=[
            {"start": "10.0.0.1", "end": "fd00::1"},
            {"subnet": "10.0.1.0/24"},
            {"start": "10.0.2.1", "end": "10.0.2.9", "prefix": 24},
        ],
    )
    got = ask(pool, book_of())
    assert (got.details.address, got.details.prefix) == ("10.0.2.1", 24)
    with pytest.raises(errors.RequestedIPOutOfBounds):
        ask(pool, book_of(), requested="10.0.1.7")


def test_an_exhausted_pool_with_an_invalid_entry_is_still_exhausted() -> None:
    pool = pool_of(pools=[{"end": "10.0.0.1"}, {"start": "10.0.0.10", "end": "10.0.0.10"}])
    with pytest.raises(errors.PoolExhausted):
        ask(pool, book_of(("10.0.0.10", BOB)))


def test_an_address_held_before_its_entry_became_invalid_is_rebound() -> None:
    pool = pool_of(prefix=24, pools=[{"subnet": "10.0.0.0/24", "gateway": "fd00::1"}])
    got = ask(pool, book_of(("10.0.0.7", ALICE)))
    assert (got.details.address, got.rebound) == ("10.0.0.7", True)


def test_a_released_address_is_handed_out_again() -> None:
    pool = pool_of(pools=TEN)
    book = book_of(("10.0.0.10", BOB), ("10.0.0.11", ledger.ClaimKey("metal3", "carol")))
    allocate.release(book, BOB)
    assert ask(pool, book).details.address == "10.0.0.10"


# -- rule 1: re-binding ----------------------------------------------------------------------


def test_a_claim_already_recorded_is_rebound_to_its_address() -> None:
    book = book_of(("10.0.0.15", ALICE))
    allocation = ask(pool_of(pools=TEN), book)
    assert allocation.rebound
    assert allocation.details.address == "10.0.0.15"
    assert allocation.object_name == "obj-alice-10.0.0.15"


@pytest.mark.parametrize(
    ("spec", "requested"),
    [
        pytest.param({"pools": TEN}, "10.0.0.300", id="even-with-a-garbage-annotation"),
        pytest.param({"pools": TEN, "preAllocations": {"alice": "10.0.0.11"}}, None, id="prealloc"),
        pytest.param({"pools": []}, None, id="even-when-the-pool-no-longer-holds-it"),
    ],
)
def test_rebinding_comes_before_every_other_rule(spec: dict[str, Any], requested: str) -> None:
    allocation = ask(pool_of(**spec), book_of(("10.0.0.15", ALICE)), requested=requested)
    assert allocation.rebound
    assert allocation.details.address == "10.0.0.15"


def test_rebinding_is_by_kind_and_name() -> None:
    allocation = ask(pool_of(pools=TEN), book_of(("10.0.0.15", ALICE)), claim=ALICE_CAPI)
    assert not allocation.rebound
    assert allocation.details.address == "10.0.0.10"


# -- rules 2 to 5: annotation and pre-allocation ---------------------------------------------


@pytest.mark.parametrize(
    ("spec", "held", "requested", "error"),
    [
        pytest.param(
            {"pools": TEN}, [], "10.0.0.300", errors.InvalidAnnotation, id="bad-annotation"
        ),
        pytest.param({"pools": TEN}, [], " 10.0.0.1", errors.InvalidAnnotation, id="padded"),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.12"}},
            [],
            "10.0.0.13",
            errors.PreAllocationConflict,
            id="pre-allocation-and-annotation-disagree",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.12"}},
            [],
            "garbage",
            errors.InvalidAnnotation,
            id="bad-annotation-checked-before-pre-allocation",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.1.1"}},
            [],
            None,
            errors.PreAllocationOutOfBounds,
            id="pre-allocation-outside-every-entry",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.12"}},
            [("10.0.0.12", BOB)],
            None,
            errors.PreAllocationTaken,
            id="pre-allocation-held-by-another-claim",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.12"}},
            [("10.0.0.12", ALICE_CAPI)],
            None,
            errors.PreAllocationTaken,
            id="pre-allocation-held-by-the-other-kind",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.1234"}},
            [],
            None,
            errors.PreAllocationInvalid,
            id="pre-allocation-not-an-ip",
        ),
        pytest.param(
            {"pools": TEN},
            [],
            "10.0.1.1",
            errors.RequestedIPOutOfBounds,
            id="requested-outside-every-entry",
        ),
        pytest.param(
            {"pools": TEN},
            [("10.0.0.12", BOB)],
            "10.0.0.12",
            errors.RequestedIPNotAvailable,
            id="requested-held",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"bob": "10.0.0.12"}},
            [],
            "10.0.0.12",
            errors.RequestedIPNotAvailable,
            id="requested-pre-allocated-to-another-name",
        ),
    ],
)
def test_annotation_and_pre_allocation_failures(
    spec: dict[str, Any],
    held: list[tuple[str, ledger.ClaimKey]],
    requested: str | None,
    error: type[errors.IPAMError],
) -> None:
    with pytest.raises(error) as caught:
        ask(pool_of(**spec), book_of(*held), requested=requested)
    assert caught.value.reason == "AllocationFailed"


def test_the_invalid_annotation_text_quotes_the_value() -> None:
    with pytest.raises(errors.InvalidAnnotation, match='"nope": not a valid IP address'):
        ask(pool_of(pools=TEN), book_of(), requested="nope")


@pytest.mark.parametrize(
    ("spec", "held", "requested", "options", "expected"),
    [
        pytest.param({"pools": TEN}, [], "", {}, "10.0.0.10", id="empty-annotation-is-absent"),
        pytest.param({"pools": TEN}, [], "10.0.0.17", {}, "10.0.0.17", id="requested-free"),
        pytest.param(
            {"pools": [{"subnet": "fd00::/64"}]},
            [],
            "FD00::ABCD:0:0:1",
            {},
            "fd00::abcd:0:0:1",
            id="requested-canonicalised",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"alice": "10.0.0.12"}},
            [],
            None,
            {},
            "10.0.0.12",
            id="pre-allocated",
        ),
        pytest.param(
            {"pools": [{"subnet": "fd00::/64"}], "preAllocations": {"alice": "fd00::0005"}},
            [],
            "FD00:0::5",
            {},
            "fd00::5",
            id="pre-allocation-and-annotation-agree-by-value",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"bob": "10.0.0.12"}},
            [],
            "10.0.0.12",
            {"deleting": True},
            "10.0.0.12",
            id="requested-pre-allocated-to-another-while-deleting",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"bob": "10.0.0.10", "carol": "10.0.0.11"}},
            [],
            None,
            {},
            "10.0.0.12",
            id="dynamic-skips-pre-allocated",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"bob": "10.0.0.10"}},
            [],
            None,
            {"deleting": True},
            "10.0.0.10",
            id="dynamic-takes-pre-allocated-while-deleting",
        ),
        pytest.param(
            {"pools": TEN, "preAllocations": {"bob": "10.0.0.10"}},
            [("10.0.0.11", BOB)],
            None,
            {},
            "10.0.0.12",
            id="pre-allocated-address-stays-reserved-even-if-its-claim-holds-another",
        ),
    ],
)
def test_granted_addresses(
    spec: dict[str, Any],
    held: list[tuple[str, ledger.ClaimKey]],
    requested: str | None,
    options: dict[str, Any],
    expected: str,
) -> None:
    allocation = ask(pool_of(**spec), book_of(*held), requested=requested, **options)
    assert allocation.details.address == expected
    assert not allocation.rebound


def test_a_pre_allocated_address_carries_the_details_of_its_entry() -> None:
    pool = pool_of(
        prefix=16,
        pools=[{"subnet": "10.0.0.0/24"}, {"subnet": "10.0.1.0/24", "prefix": 24}],
        preAllocations={"alice": "10.0.1.9"},
    )
    assert ask(pool, book_of()).details.prefix == 24


# -- random ----------------------------------------------------------------------------------


def test_random_picks_every_free_address_of_the_first_entry_with_room() -> None:
    pool = pool_of(
        allocationStrategy="random",
        pools=[{"start": "10.0.0.1", "end": "10.0.0.2"}, *TEN, {"subnet": "10.1.0.0/16"}],
        preAllocations={"bob": "10.0.0.13"},
    )
    book = book_of(("10.0.0.1", BOB), ("10.0.0.2", ALICE_CAPI), ("10.0.0.11", BOB))
    rng = random.Random(7)
    seen = Counter(ask(pool, book, rng=rng).details.address for _ in range(2000))
    expected = {f"10.0.0.{i}" for i in range(10, 20)} - {"10.0.0.11", "10.0.0.13"}
    assert set(seen) == expected
    assert min(seen.values()) > 2000 / len(expected) / 2


def test_random_finds_the_single_free_address_of_a_dense_entry() -> None:
    pool = pool_of(allocationStrategy="random", pools=[{"subnet": "10.0.0.0/22"}])
    book = book_of(*((f"10.0.{i // 256}.{i % 256}", BOB) for i in range(1, 1024) if i != 700))
    rng = random.Random(1)
    assert {ask(pool, book, rng=rng).details.address for _ in range(20)} == {"10.0.2.188"}


def test_random_works_in_an_unbounded_entry() -> None:
    pool = pool_of(allocationStrategy="random", pools=[{"start": "fd00::"}])
    allocation = ask(pool, book_of(), rng=random.Random(3))
    assert pool.contains(allocation.details.address)


def test_random_is_exhausted_like_sequential() -> None:
    pool = pool_of(allocationStrategy="random", pools=[{"subnet": "10.0.0.0/30"}])
    book = book_of(("10.0.0.1", BOB), ("10.0.0.2", BOB), ("10.0.0.3", BOB))
    with pytest.raises(errors.PoolExhausted):
        ask(pool, book)


# -- cost ------------------------------------------------------------------------------------


def test_a_requested_address_deep_in_an_ipv6_slash_64_is_found_by_arithmetic() -> None:
    # Walking these ranges would never end (2^64 addresses, then everything above fd01::):
    # that the answers come at all is the proof; pytest's timeout fails a walk.
    pool = pool_of(pools=[{"subnet": "fd00::/64"}, {"start": "fd01::"}])
    with pytest.raises(errors.RequestedIPOutOfBounds):
        ask(pool, book_of(), requested="fc00::1")
    found = ask(pool, book_of(), requested="fd01:ffff::1")
    assert found.details.address == "fd01:ffff::1"
    assert ask(pool, book_of(), requested="fd00::ffff:ffff:ffff:ffff").details.address == (
        "fd00::ffff:ffff:ffff:ffff"
    )


def test_the_next_free_address_after_a_long_run_is_one_lookup() -> None:
    pool = pool_of(pools=[{"subnet": "fd00::/64"}])
    book = ledger.Ledger()
    for i in range(1, 5001):
        book.add(ledger.Holding(f"fd00::{i:x}", ledger.ClaimKey("capi", f"c{i}"), f"x{i}"))
    assert len(book.used_keys) == 1
    assert ask(pool, book).details.address == "fd00::1389"


def test_an_invalid_pre_allocation_text_is_quoted_in_the_error() -> None:
    pool = pool_of(pools=TEN, preAllocations={"alice": "10.0.0.300"})
    with pytest.raises(errors.PreAllocationInvalid) as caught:
        ask(pool, book_of())
    assert caught.value.message == 'Invalid pre-allocated IP "10.0.0.300": not a valid IP address'


def test_a_prefix_of_128_is_handed_out() -> None:
    pool = pool_of(pools=[{"subnet": "fd00::/120", "prefix": 128}])
    assert ask(pool, book_of()).details.prefix == 128


def test_sequential_reaches_the_last_integer_of_a_range() -> None:
    used = ranges.IntervalSet([(0, 8)])
    assert allocate.first_free(0, 9, used, ranges.IntervalSet()) == 9
    assert allocate.first_free(0, 9, used, ranges.IntervalSet([(9, 9)])) is None


def test_random_in_a_dense_range_skips_pre_allocations_and_picks_each_free_one() -> None:
    # Free for `used`: 1000, 1003, 1100, 1300, 1500, 1998, 1999. Pre-allocated among them:
    # 1000 and 1003 (an interval that starts below the range), 1300, and 1998-1999 (one
    # that ends above it); 500 and 2500 lie outside the range altogether.
    lo, hi = 1000, 1999
    used = ranges.IntervalSet(
        [(1001, 1002), (1004, 1099), (1101, 1299), (1301, 1499), (1501, 1997)]
    )
    reserved = ranges.IntervalSet(
        [(500, 500), (990, 1003), (1300, 1300), (1995, 2005), (2500, 2500)]
    )
    rng = random.Random(11)
    seen = Counter(allocate.random_free(lo, hi, used, reserved, rng) for _ in range(400))
    assert set(seen) == {1100, 1500}
    assert min(seen.values()) > 100


def test_random_in_a_dense_range_with_only_pre_allocations_free_is_exhausted() -> None:
    used = ranges.IntervalSet([(1001, 1999)])
    reserved = ranges.IntervalSet([(1000, 1000)])
    assert allocate.random_free(1000, 1999, used, reserved, random.Random(5)) is None


def test_sequential_in_a_one_address_range() -> None:
    assert allocate.first_free(5, 5, ranges.IntervalSet(), ranges.IntervalSet()) == 5


def test_random_never_picks_a_pre_allocation_at_the_end_of_a_dense_range() -> None:
    used = ranges.IntervalSet([(1, 98)])
    reserved = ranges.IntervalSet([(99, 99)])
    rng = random.Random(2)
    assert {allocate.random_free(0, 99, used, reserved, rng) for _ in range(60)} == {0}
