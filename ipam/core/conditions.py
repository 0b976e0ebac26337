"""A pool's conditions, decided from facts: the same facts always give the same conditions.

``Ready`` always: False with ``InvalidSpec``, ``NoAddresses``, ``AwaitingAddresses`` (a move
is still bringing IPAddress objects in) or ``PoolExhausted``, else True with ``Available``.
The conflict conditions appear only while true: ``PrefixCollision`` (another pool can
produce the same IPAddress names), ``Overlap`` (another pool produces some of the same
addresses), ``DuplicateAddress`` (one address held for two claims) and ``OutOfRange``
(addresses held outside the pool's ranges, after the ranges shrank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ipam.core import errors

READY = "Ready"
PREFIX_COLLISION = "PrefixCollision"
OVERLAP = "Overlap"
DUPLICATE = "DuplicateAddress"
OUT_OF_RANGE = "OutOfRange"
OWNED = (READY, PREFIX_COLLISION, OVERLAP, DUPLICATE, OUT_OF_RANGE)
"""Condition types this controller writes on pools (others' conditions are left alone)."""
LISTED = 5
"""At most this many examples in one message."""


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str


@dataclass(frozen=True)
class PoolFacts:
    """What is known about a pool when its conditions are decided."""

    name_prefix: str = ""
    problems: Sequence[errors.FieldError] = ()
    total: int = 0
    free: int = 0
    awaiting: int = 0
    """Addresses the pool records as held that no IPAddress object shows yet."""
    clashes: Sequence[str] = ()
    """Pools whose IPAddress names can equal this pool's."""
    overlaps: Sequence[str] = ()
    """Pools that produce some of this pool's addresses."""
    duplicates: Sequence[str] = ()
    """One line per address held for two claims."""
    out_of_range: Sequence[str] = field(default_factory=tuple)
    """Addresses held by this pool's objects outside its ranges."""


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def ready(facts: PoolFacts) -> Condition:
    if facts.problems:
        text = "; ".join(f"{p.path}: {p.message}" for p in facts.problems[:LISTED])
        return Condition(READY, False, "InvalidSpec", text)
    if facts.total == 0:
        return Condition(READY, False, "NoAddresses", "No pool entry produces any address")
    if facts.awaiting:
        return Condition(
            READY,
            False,
            "AwaitingAddresses",
            f"{facts.awaiting} address(es) recorded on the pool have no IPAddress object yet "
            "(a clusterctl move in progress?): new addresses are handed out once they arrive",
        )
    if facts.free == 0:
        return Condition(READY, False, "PoolExhausted", "Every address is held or pre-allocated")
    return Condition(READY, True, "Available", "Addresses can be handed out")


def pool_conditions(facts: PoolFacts) -> list[Condition]:
    """Ready, then each conflict condition that holds."""
    result = [ready(facts)]
    if facts.clashes:
        result.append(
            Condition(
                PREFIX_COLLISION,
                True,
                "NamePrefixCollision",
                f"namePrefix {facts.name_prefix!r} can produce the same IPAddress names as "
                f"pool(s) {_listed(facts.clashes)}; a name taken by the other pool is skipped",
            )
        )
    if facts.overlaps:
        result.append(
            Condition(
                OVERLAP,
                True,
                "OverlappingPools",
                f"Ranges overlap pool(s) {_listed(facts.overlaps)}; an address held there is "
                "not handed out here",
            )
        )
    if facts.duplicates:
        result.append(
            Condition(DUPLICATE, True, "DuplicateAddress", "; ".join(facts.duplicates[:LISTED]))
        )
    if facts.out_of_range:
        result.append(
            Condition(
                OUT_OF_RANGE,
                True,
                "AddressesOutOfRange",
                f"{len(facts.out_of_range)} held address(es) lie outside the pool's ranges: "
                f"{_listed(facts.out_of_range)}; they stay with their claims until released",
            )
        )
    return result
