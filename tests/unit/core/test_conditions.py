"""Pool conditions from facts: Ready with the first reason that applies, conflicts while true."""

from __future__ import annotations

import pytest

from ipam.core import conditions, errors

HEALTHY = conditions.PoolFacts(name_prefix="p", total=10, free=4)


@pytest.mark.parametrize(
    ("facts", "reason", "status"),
    [
        pytest.param(HEALTHY, "Available", True, id="available"),
        pytest.param(
            conditions.PoolFacts(
                problems=[errors.FieldError("spec.pools[0].end", "is before start")],
                total=10,
                free=4,
            ),
            "InvalidSpec",
            False,
            id="invalid-wins",
        ),
        pytest.param(conditions.PoolFacts(total=0, free=0), "NoAddresses", False, id="empty"),
        pytest.param(
            conditions.PoolFacts(total=10, free=0, awaiting=3),
            "AwaitingAddresses",
            False,
            id="awaiting-before-exhausted",
        ),
        pytest.param(conditions.PoolFacts(total=10, free=0), "PoolExhausted", False, id="full"),
    ],
)
def test_ready_takes_the_first_reason_that_applies(
    facts: conditions.PoolFacts, reason: str, status: bool
) -> None:
    ready = conditions.ready(facts)
    assert (ready.type, ready.reason, ready.status) == ("Ready", reason, status)


def test_invalid_spec_names_each_field() -> None:
    problems = [errors.FieldError(f"spec.pools[{i}].end", "is before start") for i in range(7)]
    message = conditions.ready(conditions.PoolFacts(problems=problems)).message
    assert "spec.pools[0].end: is before start" in message
    assert "spec.pools[4].end" in message
    assert "spec.pools[5].end" not in message, "at most five listed"


def test_a_healthy_pool_has_only_ready() -> None:
    assert [c.type for c in conditions.pool_conditions(HEALTHY)] == ["Ready"]


def test_each_conflict_is_a_true_condition_naming_its_partners() -> None:
    facts = conditions.PoolFacts(
        name_prefix="p",
        total=10,
        free=4,
        clashes=["q"],
        overlaps=["r"],
        duplicates=["10.0.0.1 held by a and b"],
        out_of_range=[f"10.9.0.{i}" for i in range(7)],
    )
    found = {c.type: c for c in conditions.pool_conditions(facts)}
    assert set(found) == {"Ready", "PrefixCollision", "Overlap", "DuplicateAddress", "OutOfRange"}
    assert all(c.status for t, c in found.items() if t != "Ready")
    assert "pool(s) q" in found["PrefixCollision"].message
    assert "pool(s) r" in found["Overlap"].message
    assert "10.0.0.1 held by a and b" in found["DuplicateAddress"].message
    assert found["OutOfRange"].message.startswith("7 held address(es)")
    assert "and 2 more" in found["OutOfRange"].message


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (1, "1 held address(es) lie outside the pool's ranges: 10.9.0.0;"),
        (
            5,
            "5 held address(es) lie outside the pool's ranges: 10.9.0.0, 10.9.0.1, 10.9.0.2, "
            "10.9.0.3, 10.9.0.4;",
        ),
        (
            6,
            "6 held address(es) lie outside the pool's ranges: 10.9.0.0, 10.9.0.1, 10.9.0.2, "
            "10.9.0.3, 10.9.0.4 and 1 more;",
        ),
    ],
)
def test_a_list_in_a_message_shows_five_then_counts_the_rest(count: int, message: str) -> None:
    facts = conditions.PoolFacts(
        name_prefix="p", total=10, free=4, out_of_range=[f"10.9.0.{i}" for i in range(count)]
    )
    found = {c.type: c for c in conditions.pool_conditions(facts)}
    assert found["OutOfRange"].message.startswith(message)


def test_every_condition_of_a_pool_in_conflict_reads_exactly() -> None:
    facts = conditions.PoolFacts(
        name_prefix="p",
        problems=[
            errors.FieldError("spec.pools[0].end", "is before start"),
            errors.FieldError("spec.prefix", "must be 0-32"),
        ],
        total=10,
        free=4,
        clashes=["q", "s"],
        overlaps=["r"],
        duplicates=["10.0.0.1 held by a and b", "10.0.0.2 held by c and d"],
        out_of_range=["10.9.0.1"],
    )
    assert conditions.pool_conditions(facts) == [
        conditions.Condition(
            "Ready",
            False,
            "InvalidSpec",
            "spec.pools[0].end: is before start; spec.prefix: must be 0-32",
        ),
        conditions.Condition(
            "PrefixCollision",
            True,
            "NamePrefixCollision",
            "namePrefix 'p' can produce the same IPAddress names as pool(s) q, s; "
            "a name taken by the other pool is skipped",
        ),
        conditions.Condition(
            "Overlap",
            True,
            "OverlappingPools",
            "Ranges overlap pool(s) r; an address held there is not handed out here",
        ),
        conditions.Condition(
            "DuplicateAddress",
            True,
            "DuplicateAddress",
            "10.0.0.1 held by a and b; 10.0.0.2 held by c and d",
        ),
        conditions.Condition(
            "OutOfRange",
            True,
            "AddressesOutOfRange",
            "1 held address(es) lie outside the pool's ranges: 10.9.0.1; "
            "they stay with their claims until released",
        ),
    ]


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (HEALTHY, "Addresses can be handed out"),
        (conditions.PoolFacts(total=0, free=0), "No pool entry produces any address"),
        (
            conditions.PoolFacts(total=10, free=0, awaiting=3),
            "3 address(es) recorded on the pool have no IPAddress object yet (a clusterctl move "
            "in progress?): new addresses are handed out once they arrive",
        ),
        (conditions.PoolFacts(total=10, free=0), "Every address is held or pre-allocated"),
    ],
)
def test_ready_says_why_in_full(facts: conditions.PoolFacts, message: str) -> None:
    assert conditions.ready(facts).message == message
