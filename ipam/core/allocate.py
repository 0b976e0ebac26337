"""Which address a claim gets: one pure decision from the pool, its ledger and the request.

The order of the rules (Metal3 IPAM's, with its two hazards closed):

1. The ledger already records an address for this claim: re-bind it (after a move, after a
   lost status write, and for CAPM3's per-host claim names), even when the entry it came
   from has since been dropped as invalid: what is held is never taken away here.
2. A pool whose every entry is dropped (:attr:`~ipam.core.pools.Pool.invalid`) fails with
   :class:`~ipam.core.errors.PoolInvalid`, which names the problems; "Exhausted IP Pools"
   stays the answer of a valid pool that is full. Dropped entries of a pool that has valid
   ones produce nothing, so nothing below can hand out their addresses.
3. An ``ipAddress`` annotation that is not an IP address fails.
4. A pre-allocated claim whose annotation names another address fails.
5. A pre-allocated claim gets its address, unless no entry produces it, or another claim
   holds it (upstream hands out a duplicate there; this refuses).
6. A requested address is granted when some entry produces it, nobody holds it and no
   other claim name has it pre-allocated (upstream calls an address outside the pool
   "Exhausted IP Pools"; this says "out of bounds").
7. Otherwise the next free address of the first entry that has one: the lowest
   (``sequential``) or a uniformly random one (``random``). Pre-allocated addresses are
   never handed out this way, except while the pool is being deleted.

Every step is arithmetic on interval sets, O(log n) in the number of used intervals; no
range is ever walked. :func:`allocate` does not touch the ledger: the caller records the
holding once the IPAddress object exists.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass

from ipam.core import addresses, errors, ledger, names, pools, ranges

RANDOM_PROBES = 32
"""Random guesses tried before the exact (slower) pick among the free addresses."""

_DEFAULT_RNG = random.Random()


@dataclass(frozen=True)
class ClaimRequest:
    """A claim asking for an address, with its raw ``ipAddress`` annotation (None: absent)."""

    claim: ledger.ClaimKey
    requested: str | None = None


@dataclass(frozen=True)
class Allocation:
    """The decision: the address and its details, the object name, and whether re-bound."""

    details: pools.AddressDetails
    object_name: str
    rebound: bool


def allocate(
    pool: pools.Pool,
    book: ledger.Ledger,
    request: ClaimRequest,
    *,
    rng: random.Random | None = None,
    deleting: bool = False,
) -> Allocation:
    """The address for ``request``; raises an :class:`~ipam.core.errors.IPAMError`."""
    held = book.held_by(request.claim)
    if held is not None:
        details = pool.details_for(held.address) or pool.default_details(held.address)
        return Allocation(details=details, object_name=held.object_name, rebound=True)
    if pool.invalid:
        raise errors.PoolInvalid(pool.problems)

    requested = _requested_key(request.requested)
    name = request.claim.name
    if name in pool.pre_allocations:
        pre_allocated = addresses.key_of(pool.pre_allocations[name])
        assert pre_allocated is not None  # Pool keeps only values that parse.
        if requested is not None and requested != pre_allocated:
            raise errors.PreAllocationConflict()
        value = _pre_allocated(pool, book, request.claim, pre_allocated)
    elif name in pool.invalid_pre_allocations:
        raise errors.PreAllocationInvalid(str(pool.invalid_pre_allocations[name]))
    elif requested is not None:
        value = _requested(pool, book, request.claim, requested, deleting=deleting)
    else:
        value = _next_free(pool, book, rng or _DEFAULT_RNG, deleting=deleting)
    return _allocation(pool, value)


def release(book: ledger.Ledger, claim: ledger.ClaimKey) -> list[ledger.Holding]:
    """Forget every address ``claim`` holds in ``book``; return the released holdings."""
    return book.release(claim)


def _requested_key(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    value = addresses.key_of(text)
    if value is None:
        raise errors.InvalidAnnotation(text)
    return value


def _pre_allocated(
    pool: pools.Pool, book: ledger.Ledger, claim: ledger.ClaimKey, value: int
) -> int:
    if not pool.contains_key(value):
        raise errors.PreAllocationOutOfBounds()
    holder = book.holder_of(addresses.text_of(value))
    if holder is not None and holder.claim != claim:
        raise errors.PreAllocationTaken()
    return value


def _requested(
    pool: pools.Pool, book: ledger.Ledger, claim: ledger.ClaimKey, value: int, *, deleting: bool
) -> int:
    if not pool.contains_key(value):
        raise errors.RequestedIPOutOfBounds()
    if book.used_keys.contains(value):
        raise errors.RequestedIPNotAvailable()
    reserved_for = pool.reserved_for(value)
    if not deleting and reserved_for and claim.name not in reserved_for:
        raise errors.RequestedIPNotAvailable()
    return value


def _next_free(pool: pools.Pool, book: ledger.Ledger, rng: random.Random, *, deleting: bool) -> int:
    reserved = ranges.IntervalSet() if deleting else pool.reserved
    for entry in pool.entries:
        if entry.first is None or entry.last is None:
            continue
        if pool.strategy == pools.RANDOM:
            value = random_free(entry.first, entry.last, book.used_keys, reserved, rng)
        else:
            value = first_free(entry.first, entry.last, book.used_keys, reserved)
        if value is not None:
            return value
    raise errors.PoolExhausted()


def first_free(
    lo: int, hi: int, used: ranges.IntervalSet, reserved: ranges.IntervalSet
) -> int | None:
    """The lowest integer of ``lo..hi`` in neither set, or None."""
    value = lo
    while value <= hi:
        value = used.first_free_from(value)
        after_reserved = reserved.first_free_from(value)
        if after_reserved == value:
            return value if value <= hi else None
        value = after_reserved
    return None


def random_free(
    lo: int,
    hi: int,
    used: ranges.IntervalSet,
    reserved: ranges.IntervalSet,
    rng: random.Random,
) -> int | None:
    """A uniformly chosen integer of ``lo..hi`` in neither set, or None.

    A few random probes first (O(log n) each, and almost always enough); when they all
    land on taken integers the range is dense, so count the free ones and pick one of them
    exactly. Both ways every free integer is equally likely.
    """
    size = hi - lo + 1
    for _ in range(RANDOM_PROBES):
        value = lo + rng.randrange(size)
        if not used.contains(value) and not reserved.contains(value):
            return value
    # Pre-allocated integers that are still free for ``used``: few, as the spec lists them.
    spare = [
        value
        for start, end in reserved.intervals(start_at=lo)
        if start <= hi
        for value in range(max(start, lo), min(end, hi) + 1)
        if not used.contains(value)
    ]
    free = size - used.count_in(lo, hi) - len(spare)
    if free <= 0:
        return None
    wanted, skipped = rng.randrange(free), 0
    while True:
        pick = used.nth_free(lo, hi, wanted + skipped)
        assert pick is not None  # ``free`` counts exactly what ``nth_free`` can reach.
        now_skipped = bisect_right(spare, pick)
        if now_skipped == skipped:
            return pick
        skipped = now_skipped


def _allocation(pool: pools.Pool, value: int) -> Allocation:
    details = pool.details_for_key(value)
    assert details is not None  # Every rule above only returns addresses of the pool.
    if not 0 <= details.prefix <= 128:  # Pool drops such entries; kept as a last guard.
        raise errors.InvalidPrefix()
    return Allocation(
        details=details,
        object_name=names.address_object_name(pool.name_prefix, details.address),
        rebound=False,
    )
