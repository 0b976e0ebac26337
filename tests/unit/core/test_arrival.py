"""Claims and pools while a move brings objects in: wait, re-create, or allocate."""

from __future__ import annotations

import pytest

from ipam.core import arrival, ledger

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("capi", "bob")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": None,
                "served_before": True,
                "waited": 2.0,
            },
            arrival.Wait("the IPAddress of its recorded address 10.0.0.5", 8.0),
            id="recorded-waits-for-its-address",
        ),
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": ALICE,
                "served_before": True,
                "waited": 2.0,
            },
            arrival.Wait("the IPAddress of its recorded address 10.0.0.5", 8.0),
            id="recorded-reserved-for-itself-still-waits",
        ),
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": None,
                "served_before": True,
                "waited": 10.0,
            },
            arrival.Recreate("10.0.0.5"),
            id="recorded-recreates-after-the-grace",
        ),
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": BOB,
                "served_before": True,
                "waited": 0.0,
            },
            arrival.Allocate("its recorded address 10.0.0.5 is held by capi claim bob"),
            id="recorded-taken-by-another-allocates-at-once",
        ),
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": None,
                "served_before": True,
                "waited": 12.0,
                "pool_settles_in": 0.5,
            },
            arrival.Wait(
                "the IPAddress of its recorded address 10.0.0.5 "
                "(its pool still awaits moved IPAddresses)",
                0.5,
            ),
            id="recorded-waits-past-the-grace-while-its-pool-awaits-a-move",
        ),
        pytest.param(
            {
                "recorded": "10.0.0.5",
                "holder_of_recorded": None,
                "served_before": True,
                "waited": 12.0,
                "pool_settles_in": 0.0,
            },
            arrival.Recreate("10.0.0.5"),
            id="recorded-recreates-once-its-pool-awaits-nothing",
        ),
        pytest.param(
            {"recorded": None, "holder_of_recorded": None, "served_before": True, "waited": 10.0},
            arrival.Allocate(),
            id="served-before-allocates-right-at-the-grace",
        ),
        pytest.param(
            {"recorded": None, "holder_of_recorded": None, "served_before": True, "waited": 3.0},
            arrival.Wait("an IPAddress of it (it was served before)", 7.0),
            id="served-before-waits",
        ),
        pytest.param(
            {"recorded": None, "holder_of_recorded": None, "served_before": True, "waited": 11.0},
            arrival.Allocate(),
            id="served-before-allocates-after-the-grace",
        ),
        pytest.param(
            {"recorded": None, "holder_of_recorded": None, "served_before": False, "waited": 0.0},
            arrival.Allocate(),
            id="new-claim-allocates",
        ),
    ],
)
def test_an_unbound_claim_plans_from_what_its_metadata_records(
    kwargs: dict[str, object], expected: arrival.Plan
) -> None:
    assert arrival.unbound_claim(claim=ALICE, grace=10.0, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recorded", "known", "awaiting"), [(0, 0, 0), (5, 5, 0), (5, 7, 0), (9, 4, 5)]
)
def test_a_pool_awaits_what_it_records_beyond_what_is_known(
    recorded: int, known: int, awaiting: int
) -> None:
    assert arrival.pool_awaiting(recorded, known) == awaiting


@pytest.mark.parametrize(
    ("awaiting", "waited", "wait"),
    [(0, 0.0, 0.0), (1, 10.0, 110.0), (3, 10.0, 110.0), (3, 120.0, 0.0), (3, 500.0, 0.0)],
)
def test_fresh_allocation_waits_for_arrivals_at_most_the_settle_time(
    awaiting: int, waited: float, wait: float
) -> None:
    assert arrival.fresh_allocation_wait(awaiting=awaiting, waited=waited, settle=120.0) == wait
