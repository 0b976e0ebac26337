"""A pool's counts kept as its objects change agree with a count of its objects made afresh.

The registry counts a pool's distinct observed addresses as IPAddresses come and go, and
lends its own ledger to the status write when that ledger holds exactly the held objects.
Any sequence of observations, deletions, Lists, reservations and moves must leave both
equal to what the objects themselves say: a set of their addresses and a ledger built
from the held ones.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.core import ledger, status
from ipam.handlers import state
from ipam.kube import bodies, resources

NAMES = ["a", "b", "c", "d"]
# Two spellings of one IPv6 address: the count compares values, not texts.
IPS = ["10.0.0.1", "10.0.0.2", "fd00::1", "FD00:0::1"]
CLAIMS = ["c1", "c2", "c3"]


def fact(
    name: str, ip: str, claim: str, *, ours: bool = True, deleting: bool = False, version: int = 1
) -> bodies.AddressFact:
    flavour = resources.METAL3
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"{name}-uid",
        "resourceVersion": str(version),
        "finalizers": [flavour.address_finalizer] if ours else [],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return bodies.address_fact(
        bodies.address_record(
            flavour,
            {
                "metadata": meta,
                "spec": {"address": ip, "pool": {"name": "p"}, "claim": {"name": claim}},
            },
        )
    )


observe = st.tuples(
    st.just("observe"),
    st.sampled_from(NAMES),
    st.sampled_from(IPS),
    st.sampled_from(CLAIMS),
    st.booleans(),
    st.booleans(),
)
forget = st.tuples(st.just("forget"), st.sampled_from(NAMES))
relist = st.tuples(st.just("relist"), st.sets(st.sampled_from(NAMES)))
reserve = st.tuples(
    st.sampled_from(["reserve", "unreserve", "keep_moved"]),
    st.sampled_from([*NAMES, "r"]),
    st.sampled_from(IPS),
    st.sampled_from(CLAIMS),
)
steps = st.lists(st.one_of(observe, forget, relist, reserve), max_size=30)


def expected_distinct(pool_state: state.PoolState) -> int:
    """Distinct addresses of every observed object, counted the slow way: a new ledger."""
    return ledger.Ledger(f.holding for f in pool_state.facts.values()).used


@settings(max_examples=300, deadline=None)
@given(steps)
def test_counts_and_the_held_ledger_follow_every_change(ops: list[tuple[Any, ...]]) -> None:
    registry = state.Registry()
    pool_state = registry.pool("ns", "p")
    for version, op in enumerate(ops, start=1):
        if op[0] == "observe":
            _, name, ip, claim, ours, deleting = op
            registry.observe_address(
                fact(name, ip, claim, ours=ours, deleting=deleting, version=version)
            )
        elif op[0] == "forget":
            registry.forget_address("metal3", "ns", op[1], "")
        elif op[0] == "relist":
            kept = [f for f in pool_state.facts.values() if f.name in op[1]]
            registry.replace_addresses("metal3", "ns", kept, listed_at=float("inf"))
        else:
            kind, name, ip, claim = op
            holding = ledger.Holding(ip, ledger.ClaimKey("metal3", claim), name)
            getattr(pool_state, kind)(holding)
        pool_state = registry.pool("ns", "p")  # an idle state may have been dropped

        assert pool_state.observed_addresses() == expected_distinct(pool_state)
        held = [f for f in pool_state.facts.values() if f.ours or f.deleting]
        afresh = ledger.Ledger(f.holding for f in held)
        lent = pool_state.held_ledger(held)
        assert sorted(lent.holdings(), key=repr) == sorted(afresh.holdings(), key=repr)
        assert lent.used == afresh.used
        assert list(lent.used_keys.intervals()) == list(afresh.used_keys.intervals())
        assert status.indexes(lent).keys() == status.indexes(afresh).keys()


def held_facts(pool_state: state.PoolState) -> list[bodies.AddressFact]:
    return [f for f in pool_state.facts.values() if f.ours or f.deleting]


def test_the_pools_own_ledger_is_lent_only_while_it_holds_exactly_the_held_objects() -> None:
    registry = state.Registry()
    registry.observe_address(fact("a", "10.0.0.1", "c1"))
    pool_state = registry.pool("ns", "p")
    assert pool_state.held_ledger(held_facts(pool_state)) is pool_state.book
    pool_state.reserve(ledger.Holding("10.0.0.2", ledger.ClaimKey("metal3", "c2"), "b"))
    assert pool_state.held_ledger(held_facts(pool_state)) is not pool_state.book, (
        "a reservation is nobody's object"
    )
    assert pool_state.held_ledger(held_facts(pool_state)).used == 1
    registry.observe_address(fact("b", "10.0.0.2", "c2", ours=False))
    assert pool_state.held_ledger(held_facts(pool_state)) is not pool_state.book, (
        "an object not held is left out"
    )
    assert pool_state.held_ledger(held_facts(pool_state)).used == 1
    assert pool_state.observed_addresses() == 2


def test_two_objects_on_one_address_count_it_once_until_both_are_gone() -> None:
    registry = state.Registry()
    registry.observe_address(fact("a", "fd00::1", "c1"))
    registry.observe_address(fact("b", "FD00:0::1", "c2"))
    pool_state = registry.pool("ns", "p")
    assert pool_state.observed_addresses() == 1
    registry.forget_address("metal3", "ns", "a", "")
    assert pool_state.observed_addresses() == 1
    registry.observe_address(fact("b", "10.0.0.9", "c2", version=2))
    assert pool_state.observed_addresses() == 1
    registry.forget_address("metal3", "ns", "b", "")
    assert registry.pool("ns", "p").observed_addresses() == 0
