"""Which IPAddress objects a claim may call its own, and which one it keeps when it has several.

A claim holds one address. The objects that name it are judged from facts that survive
``clusterctl move`` (the claim's metadata moves, its status does not):

1. An object whose address the claim *records* (the address annotation this controller
   writes together with its finalizer) is the claim's, wherever it lies.
2. An object the claim's status names is the claim's: a controller gave it (this one, or
   Metal3 IPAM before an upgrade), even if the pool has shrunk since.
3. Any other object naming the claim (made by hand, or by a tool) is *adopted* only when it
   could have been allocated: its address lies inside the pool, matches the claim's
   ``ipAddress`` request and pre-allocation, and no other claim holds it. Otherwise it is
   reported and left alone, and the claim is served as if it did not exist.

When a claim owns several objects (two controllers without leader election, a hand-made
twin), it keeps one by the same facts, in that order, then the object with the canonical
name, then our finalizer, then the oldest; every controller picks the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ipam.core import addresses, ledger, names, pools


@dataclass(frozen=True)
class Candidate:
    """An IPAddress object that names a claim, with what is known about it."""

    holding: ledger.Holding
    created: str = ""
    """Its creationTimestamp (RFC 3339 text sorts in time order); reset by a move."""
    ours: bool = False
    """Whether it carries this controller's finalizer."""


@dataclass(frozen=True)
class ClaimFacts:
    """What the claim itself says about its address."""

    recorded: str | None = None
    """The address recorded in the claim's metadata (canonical text), if any."""
    status_name: str = ""
    """The IPAddress object named in the claim's status, if any."""
    requested: str | None = None
    """The claim's ``ipAddress`` annotation, as written."""


@dataclass(frozen=True)
class Verdict:
    """Whether an object is the claim's; ``why`` says why not (for an Event), else why."""

    owned: bool
    why: str


def judge(
    candidate: Candidate,
    claim: ClaimFacts,
    pool: pools.Pool,
    book: ledger.Ledger,
) -> Verdict:
    """Whether ``candidate`` belongs to the claim it names (the module's rules 1 to 3)."""
    holding = candidate.holding
    address = addresses.canonical_text(holding.address)
    if address is None:
        return Verdict(False, f"its address {holding.address!r} is not an IP address")
    if claim.recorded is not None and address == claim.recorded:
        return Verdict(True, "the claim records this address")
    if claim.status_name and holding.object_name == claim.status_name:
        return Verdict(True, "the claim's status names this object")
    if not pool.contains(address):
        return Verdict(False, f"{address} lies outside the pool's ranges")
    if claim.requested:
        wanted = addresses.canonical_text(claim.requested)
        if wanted != address:
            return Verdict(False, f"the claim requests {claim.requested}, not {address}")
    pre_allocated = pool.pre_allocations.get(holding.claim.name)
    if pre_allocated is not None and pre_allocated != address:
        return Verdict(False, f"the pool pre-allocates {pre_allocated} to this claim")
    key = addresses.key_of(address)
    assert key is not None  # canonical text always parses
    reserved_for = pool.reserved_for(key)
    if reserved_for and holding.claim.name not in reserved_for:
        return Verdict(False, f"{address} is pre-allocated to claim {', '.join(reserved_for)}")
    for other in book.holders_of(address):
        if other.claim != holding.claim:
            return Verdict(False, f"{address} is also held by claim {other.claim.name}")
    return Verdict(True, "it lies inside the pool and matches what the claim asks for")


def keep(
    candidates: Sequence[Candidate], claim: ClaimFacts, name_prefix: str
) -> tuple[Candidate | None, list[Candidate]]:
    """The object the claim keeps among those it owns, and the others it must give back."""
    if not candidates:
        return None, []

    def rank(candidate: Candidate) -> tuple[bool, bool, bool, bool, str, str]:
        holding = candidate.holding
        address = addresses.canonical_text(holding.address) or holding.address
        canonical = names.address_object_name(name_prefix, address)
        return (
            claim.recorded is None or address != claim.recorded,
            holding.object_name != claim.status_name,
            holding.object_name != canonical,
            not candidate.ours,
            candidate.created,
            holding.object_name,
        )

    ordered = sorted(candidates, key=rank)
    return ordered[0], ordered[1:]
