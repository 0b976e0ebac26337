"""What a claim or pool does while the objects of a ``clusterctl move`` are still arriving.

clusterctl creates a namespace's objects in the target in ownership order and copies their
metadata, never their status: a claim often arrives long before its IPAddress. Two records
in metadata, written by this controller, carry across:

- on a claim, the address it holds (written with our finalizer, before its IPAddress is
  created): an arriving claim waits for that address's IPAddress, which nobody else may
  take meanwhile, and re-creates that very address if it never comes (not before its
  pool stops awaiting moved IPAddresses);
- on a pool, how many addresses it holds: until that many are known, no address is handed
  out to a claim that holds none, because an IPAddress still on its way may hold it.

Both waits end after a grace, so a stale record costs time, never an address.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipam.core import ledger


@dataclass(frozen=True)
class Wait:
    """Nothing to do for ``retry_in`` seconds; ``why`` says what is awaited."""

    why: str
    retry_in: float


@dataclass(frozen=True)
class Recreate:
    """Create the IPAddress of the recorded ``address`` again (it never arrived)."""

    address: str


@dataclass(frozen=True)
class Allocate:
    """Choose an address the usual way; ``note`` explains an unusual reason, if any."""

    note: str = ""


Plan = Wait | Recreate | Allocate


def unbound_claim(
    *,
    claim: ledger.ClaimKey,
    recorded: str | None,
    holder_of_recorded: ledger.ClaimKey | None,
    served_before: bool,
    waited: float,
    grace: float,
    pool_settles_in: float = 0.0,
) -> Plan:
    """The plan for a claim that no IPAddress object shows as holding anything.

    ``recorded``: the address the claim's metadata records; ``holder_of_recorded``: the
    claim holding that address now, if any; ``served_before``: the claim carries our
    finalizer; ``waited``: seconds since this process first saw the claim so;
    ``pool_settles_in``: seconds the pool may still wait for IPAddresses a move has yet to
    create (0 when it awaits none). A recorded address is re-created only once both waits
    are over: while its pool awaits moved IPAddresses, the one on its way may be this
    claim's, and a copy made here first would collide with clusterctl's create.
    """
    if recorded is not None:
        if holder_of_recorded is not None and holder_of_recorded != claim:
            return Allocate(
                f"its recorded address {recorded} is held by {holder_of_recorded.kind} claim "
                f"{holder_of_recorded.name}"
            )
        if waited < grace:
            return Wait(f"the IPAddress of its recorded address {recorded}", grace - waited)
        if pool_settles_in > 0:
            return Wait(
                f"the IPAddress of its recorded address {recorded} "
                "(its pool still awaits moved IPAddresses)",
                pool_settles_in,
            )
        return Recreate(recorded)
    if served_before and waited < grace:
        return Wait("an IPAddress of it (it was served before)", grace - waited)
    return Allocate()


def pool_awaiting(recorded_count: int, known: int) -> int:
    """How many addresses the pool records as held beyond those known (never negative)."""
    return max(0, recorded_count - known)


def fresh_allocation_wait(*, awaiting: int, waited: float, settle: float) -> float:
    """Seconds a claim holding nothing must still wait before the pool serves it (0: now)."""
    if awaiting <= 0:
        return 0.0
    return max(0.0, settle - waited)
