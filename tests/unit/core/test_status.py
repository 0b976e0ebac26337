"""The pool status projection: upstream's indexes and lastUpdated, plus exact counters."""

from __future__ import annotations

from typing import Any

import pytest

from ipam.core import ledger, pools, status

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("metal3", "bob")
ALICE_CAPI = ledger.ClaimKey("capi", "alice")
CAROL_CAPI = ledger.ClaimKey("capi", "carol")

POOL = pools.Pool.from_spec(
    {"namePrefix": "pfx", "pools": [{"start": "10.0.0.10", "end": "10.0.0.19"}]}
)


def book_of(*held: tuple[str, ledger.ClaimKey]) -> ledger.Ledger:
    return ledger.Ledger(ledger.Holding(a, c, f"x-{c.kind}-{c.name}-{a}") for a, c in held)


def project(
    book: ledger.Ledger, previous: dict[str, Any] | None = None, pool: pools.Pool = POOL, **kw: Any
) -> dict[str, Any]:
    return status.pool_status(pool, book, previous or {}, now="NOW", creation="CREATED", **kw)


def test_status_holds_exactly_the_projected_fields() -> None:
    assert set(project(book_of())) == {
        "indexes",
        "indexesOmitted",
        "lastUpdated",
        "total",
        "used",
        "free",
        "capacityOverflow",
    }


def test_indexes_map_claim_names_of_both_kinds_to_addresses() -> None:
    book = book_of(("10.0.0.10", ALICE), ("10.0.0.11", CAROL_CAPI))
    assert project(book)["indexes"] == {"alice": "10.0.0.10", "carol": "10.0.0.11"}


def test_a_capi_claim_overwrites_a_metal3_claim_of_the_same_name_as_upstream() -> None:
    book = book_of(("10.0.0.11", ALICE_CAPI), ("10.0.0.10", ALICE))
    assert project(book)["indexes"] == {"alice": "10.0.0.11"}


@pytest.mark.parametrize(
    ("previous", "held", "expected"),
    [
        pytest.param({}, [], "CREATED", id="absent-and-nothing-held-gives-creation"),
        pytest.param({}, [("10.0.0.10", ALICE)], "NOW", id="absent-and-indexes-new-gives-now"),
        pytest.param(
            {"lastUpdated": "EARLIER", "indexes": {"alice": "10.0.0.10"}},
            [("10.0.0.10", ALICE)],
            "EARLIER",
            id="unchanged-indexes-keep-the-timestamp",
        ),
        pytest.param(
            {"lastUpdated": "EARLIER", "indexes": {"alice": "10.0.0.10"}},
            [("10.0.0.10", ALICE), ("10.0.0.11", BOB)],
            "NOW",
            id="an-allocation-moves-it",
        ),
        pytest.param(
            {"lastUpdated": "EARLIER", "indexes": {"alice": "10.0.0.10"}},
            [],
            "NOW",
            id="a-release-moves-it",
        ),
        pytest.param(
            {"lastUpdated": "EARLIER"}, [], "EARLIER", id="empty-and-absent-indexes-are-equal"
        ),
    ],
)
def test_last_updated_moves_only_when_indexes_change(
    previous: dict[str, Any], held: list[tuple[str, ledger.ClaimKey]], expected: str
) -> None:
    assert project(book_of(*held), previous)["lastUpdated"] == expected


CLAIMS = [ledger.ClaimKey("metal3", f"m{i}") for i in range(4)]
FOUR = [(f"10.0.0.1{i}", claim) for i, claim in enumerate(CLAIMS)]


@pytest.mark.parametrize(
    ("limit", "indexes", "omitted"),
    [
        pytest.param(
            4,
            {"m0": "10.0.0.10", "m1": "10.0.0.11", "m2": "10.0.0.12", "m3": "10.0.0.13"},
            None,
            id="at-the-limit-all-listed",
        ),
        pytest.param(3, {}, 4, id="past-the-limit-none-listed-all-counted"),
        pytest.param(0, {}, 4, id="limit-zero-never-lists"),
    ],
)
def test_indexes_list_every_claim_or_none_past_the_limit(
    limit: int, indexes: dict[str, str], omitted: int | None
) -> None:
    projected = project(book_of(*FOUR), indexes_limit=limit)
    assert (projected["indexes"], projected["indexesOmitted"]) == (indexes, omitted)
    assert projected["used"] == 4


def test_nothing_held_lists_nothing_and_omits_nothing_whatever_the_limit() -> None:
    projected = project(book_of(), indexes_limit=0)
    assert (projected["indexes"], projected["indexesOmitted"]) == ({}, None)


def test_claims_of_both_kinds_with_one_name_count_once_against_the_limit() -> None:
    book = book_of(("10.0.0.11", ALICE_CAPI), ("10.0.0.10", ALICE))
    assert project(book, indexes_limit=1)["indexes"] == {"alice": "10.0.0.11"}


@pytest.mark.parametrize(
    ("previous", "held", "expected"),
    [
        pytest.param(
            {"lastUpdated": "EARLIER", "indexes": {f"m{i}": f"10.0.0.1{i}" for i in range(3)}},
            FOUR,
            "NOW",
            id="crossing-the-limit-moves-it",
        ),
        pytest.param(
            {"lastUpdated": "EARLIER", "indexesOmitted": 4},
            FOUR,
            "EARLIER",
            id="same-count-keeps-it",
        ),
        pytest.param(
            {"lastUpdated": "EARLIER", "indexesOmitted": 5}, FOUR, "NOW", id="a-new-count-moves-it"
        ),
    ],
)
def test_last_updated_past_the_limit_follows_the_count(
    previous: dict[str, Any], held: list[tuple[str, ledger.ClaimKey]], expected: str
) -> None:
    assert project(book_of(*held), previous, indexes_limit=2)["lastUpdated"] == expected


@pytest.mark.parametrize(
    ("spec", "held", "deleting", "counters"),
    [
        pytest.param({}, [], False, (10, 0, 10), id="empty"),
        pytest.param({}, [("10.0.0.10", ALICE), ("10.0.0.15", BOB)], False, (10, 2, 8), id="held"),
        pytest.param(
            {"preAllocations": {"bob": "10.0.0.12", "carol": "10.9.9.9"}},
            [("10.0.0.10", ALICE)],
            False,
            (10, 2, 8),
            id="pre-allocations-inside-are-not-free",
        ),
        pytest.param(
            {"preAllocations": {"alice": "10.0.0.10"}},
            [("10.0.0.10", ALICE)],
            False,
            (10, 1, 9),
            id="a-held-pre-allocation-counts-once",
        ),
        pytest.param(
            {"preAllocations": {"bob": "10.0.0.12"}},
            [],
            True,
            (10, 0, 10),
            id="pre-allocations-free-while-deleting",
        ),
        pytest.param(
            {}, [("10.0.0.10", ALICE), ("10.1.1.1", BOB)], False, (10, 1, 9), id="outside-ignored"
        ),
    ],
)
def test_counters_are_exact_and_add_up(
    spec: dict[str, Any],
    held: list[tuple[str, ledger.ClaimKey]],
    deleting: bool,
    counters: tuple[int, int, int],
) -> None:
    pool = pools.Pool.from_spec({"pools": [{"start": "10.0.0.10", "end": "10.0.0.19"}], **spec})
    projected = project(book_of(*held), pool=pool, deleting=deleting)
    assert (projected["total"], projected["used"], projected["free"]) == counters
    assert projected["used"] + projected["free"] == projected["total"]
    assert projected["capacityOverflow"] is False


def test_huge_pools_are_clamped_to_int64_and_flagged() -> None:
    pool = pools.Pool.from_spec({"pools": [{"subnet": "fd00::/48"}]})
    projected = project(book_of(("fd00::1", ALICE)), pool=pool)
    assert projected["total"] == 2**63 - 1
    assert projected["free"] == 2**63 - 1
    assert projected["used"] == 1
    assert projected["capacityOverflow"] is True


def test_a_slash_64_fits_without_overflow() -> None:
    pool = pools.Pool.from_spec({"pools": [{"subnet": "fd00::/65"}]})
    projected = project(book_of(), pool=pool)
    assert projected["total"] == 2**63 - 1
    assert projected["capacityOverflow"] is False


def test_the_projection_is_the_same_for_the_same_holdings() -> None:
    one = book_of(("10.0.0.10", ALICE), ("10.0.0.11", BOB))
    two = book_of(("10.0.0.11", BOB), ("10.0.0.10", ALICE))
    previous = {"lastUpdated": "EARLIER"}
    assert project(one, previous) == project(two, previous)


def test_pre_allocations_count_as_used_unless_told_the_pool_is_deleting() -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [{"start": "10.0.0.10", "end": "10.0.0.19"}],
            "preAllocations": {"bob": "10.0.0.12"},
        }
    )
    assert status.usage(pool, ledger.Ledger()) == (10, 1)
    projected = status.pool_status(pool, ledger.Ledger(), {}, now="NOW", creation="CREATED")
    assert (projected["used"], projected["free"]) == (1, 9)


@pytest.mark.parametrize("deleting", [False, True])
def test_every_region_of_a_pool_adds_to_its_counters(deleting: bool) -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [
                {"start": "10.0.0.10", "end": "10.0.0.19"},
                {"start": "10.0.1.10", "end": "10.0.1.19"},
            ]
        }
    )
    book = book_of(("10.0.0.11", ALICE), ("10.0.1.11", BOB), ("10.0.1.12", CAROL_CAPI))
    assert status.usage(pool, book, deleting=deleting) == (20, 3)


@pytest.mark.parametrize("previous", [["indexes"], "junk", 7])
def test_a_malformed_previous_status_reads_as_none(previous: Any) -> None:
    projected = status.pool_status(POOL, book_of(), previous, now="NOW", creation="CREATED")
    assert projected["lastUpdated"] == "CREATED"
    assert projected["indexes"] == {}
