"""Which objects a claim owns and which one it keeps: from facts a move preserves."""

from __future__ import annotations

import pytest

from ipam.core import keeper, ledger, pools

ALICE = ledger.ClaimKey("metal3", "alice")
BOB = ledger.ClaimKey("metal3", "bob")
POOL = pools.Pool.from_spec(
    {
        "namePrefix": "p",
        "pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
        "preAllocations": {"carol": "10.0.0.15", "alice-pre": "10.0.0.16"},
    }
)


def candidate(
    address: str, name: str = "", claim: ledger.ClaimKey = ALICE, **kw: object
) -> keeper.Candidate:
    object_name = name or f"p-{address.replace('.', '-')}"
    return keeper.Candidate(ledger.Holding(address, claim, object_name), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "facts", "owned", "why"),
    [
        pytest.param(
            "10.0.0.11",
            keeper.ClaimFacts(),
            True,
            "it lies inside the pool and matches what the claim asks for",
            id="valid",
        ),
        pytest.param(
            "10.9.9.9",
            keeper.ClaimFacts(),
            False,
            "10.9.9.9 lies outside the pool's ranges",
            id="outside-the-pool",
        ),
        pytest.param(
            "10.9.9.9",
            keeper.ClaimFacts(recorded="10.9.9.9"),
            True,
            "the claim records this address",
            id="recorded-wins-over-bounds",
        ),
        pytest.param(
            "10.9.9.9",
            keeper.ClaimFacts(status_name="p-10-9-9-9"),
            True,
            "the claim's status names this object",
            id="status-wins-over-bounds",
        ),
        pytest.param(
            "10.0.0.11",
            keeper.ClaimFacts(requested="10.0.0.12"),
            False,
            "the claim requests 10.0.0.12, not 10.0.0.11",
            id="other-than-requested",
        ),
        pytest.param(
            "10.0.0.12",
            keeper.ClaimFacts(requested="10.0.0.12"),
            True,
            "it lies inside the pool and matches what the claim asks for",
            id="as-requested",
        ),
        pytest.param(
            "10.0.0.15",
            keeper.ClaimFacts(),
            False,
            "10.0.0.15 is pre-allocated to claim carol",
            id="someone-elses-pre-allocation",
        ),
        pytest.param(
            "not-ip",
            keeper.ClaimFacts(),
            False,
            "its address 'not-ip' is not an IP address",
            id="garbage",
        ),
    ],
)
def test_an_object_naming_a_claim_is_owned_only_when_the_facts_say_so(
    address: str, facts: keeper.ClaimFacts, owned: bool, why: str
) -> None:
    verdict = keeper.judge(candidate(address), facts, POOL, ledger.Ledger())
    assert verdict == keeper.Verdict(owned, why)


def test_an_object_at_another_claims_pre_allocation_is_refused_for_a_pre_allocated_claim() -> None:
    pre = ledger.ClaimKey("metal3", "alice-pre")
    verdict = keeper.judge(
        candidate("10.0.0.11", claim=pre), keeper.ClaimFacts(), POOL, ledger.Ledger()
    )
    assert verdict == keeper.Verdict(False, "the pool pre-allocates 10.0.0.16 to this claim")


def test_an_address_another_claim_holds_is_not_adopted() -> None:
    book = ledger.Ledger([ledger.Holding("10.0.0.11", BOB, "p-10-0-0-11")])
    verdict = keeper.judge(candidate("10.0.0.11", name="by-hand"), keeper.ClaimFacts(), POOL, book)
    assert verdict == keeper.Verdict(False, "10.0.0.11 is also held by claim bob")


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(keeper.ClaimFacts(recorded="10.0.0.12"), id="records-another-address"),
        pytest.param(keeper.ClaimFacts(status_name="p-10-0-0-12"), id="status-names-another"),
    ],
)
def test_a_claim_that_records_another_object_does_not_own_one_outside_the_pool(
    facts: keeper.ClaimFacts,
) -> None:
    verdict = keeper.judge(candidate("10.9.9.9"), facts, POOL, ledger.Ledger())
    assert verdict == keeper.Verdict(False, "10.9.9.9 lies outside the pool's ranges")


def test_the_first_ipv6_address_pre_allocated_to_another_claim_is_not_adopted() -> None:
    pool = pools.Pool.from_spec(
        {"pools": [{"start": "::", "end": "::f", "prefix": 64}], "preAllocations": {"carol": "::"}}
    )
    verdict = keeper.judge(
        candidate("::", name="by-hand"), keeper.ClaimFacts(), pool, ledger.Ledger()
    )
    assert verdict == keeper.Verdict(False, ":: is pre-allocated to claim carol")


def test_an_object_whose_address_is_written_otherwise_is_still_the_recorded_one() -> None:
    written_otherwise = candidate("FD00:0::1", name="by-hand")
    canonical_and_ours = candidate("fd00::2", name="p-fd00--2", ours=True)
    kept, rest = keeper.keep(
        [canonical_and_ours, written_otherwise], keeper.ClaimFacts(recorded="fd00::1"), "p"
    )
    assert kept is written_otherwise
    assert rest == [canonical_and_ours]


@pytest.mark.parametrize(
    ("facts", "candidates", "kept"),
    [
        pytest.param(
            keeper.ClaimFacts(recorded="10.0.0.12"),
            [candidate("10.0.0.11", created="1"), candidate("10.0.0.12", created="2")],
            "p-10-0-0-12",
            id="recorded-address-over-older",
        ),
        pytest.param(
            keeper.ClaimFacts(status_name="p-10-0-0-12"),
            [candidate("10.0.0.11", created="1"), candidate("10.0.0.12", created="2")],
            "p-10-0-0-12",
            id="status-over-older",
        ),
        pytest.param(
            keeper.ClaimFacts(recorded="10.0.0.11"),
            [
                candidate("10.0.0.11", name="by-hand", created="1"),
                candidate("10.0.0.11", created="2"),
            ],
            "p-10-0-0-11",
            id="canonical-name-over-a-twin",
        ),
        pytest.param(
            keeper.ClaimFacts(),
            [candidate("10.0.0.11", created="1"), candidate("10.0.0.12", created="2", ours=True)],
            "p-10-0-0-12",
            id="ours-over-foreign",
        ),
        pytest.param(
            keeper.ClaimFacts(),
            [candidate("10.0.0.12", created="2"), candidate("10.0.0.11", created="1")],
            "p-10-0-0-11",
            id="older-last",
        ),
    ],
)
def test_a_claim_with_several_objects_keeps_one_by_facts_a_move_keeps(
    facts: keeper.ClaimFacts, candidates: list[keeper.Candidate], kept: str
) -> None:
    keep, extras = keeper.keep(candidates, facts, "p")
    assert keep is not None
    assert keep.holding.object_name == kept
    assert {c.holding.object_name for c in extras} == {
        c.holding.object_name for c in candidates
    } - {kept}


def test_every_controller_keeps_the_same_object_whatever_order_it_saw_them_in() -> None:
    objects = [candidate("10.0.0.11", created="x"), candidate("10.0.0.12", created="x")]
    first, _ = keeper.keep(objects, keeper.ClaimFacts(), "p")
    second, _ = keeper.keep(list(reversed(objects)), keeper.ClaimFacts(), "p")
    assert first == second


def test_no_candidate_keeps_nothing() -> None:
    assert keeper.keep([], keeper.ClaimFacts(), "p") == (None, [])


def test_an_address_pre_allocated_to_two_other_claims_names_both() -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
            "preAllocations": {"x": "10.0.0.12", "y": "10.0.0.12"},
        }
    )
    verdict = keeper.judge(
        candidate("10.0.0.12", name="by-hand"), keeper.ClaimFacts(), pool, ledger.Ledger()
    )
    assert verdict == keeper.Verdict(False, "10.0.0.12 is pre-allocated to claim x, y")
