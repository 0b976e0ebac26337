"""Giving a claim its address: decide in the core, record it on the claim, create the IPAddress.

Three writes per new address, in this order, so that nothing is ever lost:

1. the claim's metadata: our finalizer and the chosen address (one conditional patch; it
   doubles as a lock between two controllers, and survives ``clusterctl move``);
2. the IPAddress ``<namePrefix>-<ip>``: the API server refuses a second object of that
   name, so AlreadyExists means the address is taken: the object is read, put in the
   ledger, and the next candidate tried;
3. the claim's status (:mod:`ipam.handlers.claims`).

Decisions for one pool are taken under its lock (and the locks of pools whose ranges overlap
it), and the chosen address is reserved in the ledger before the lock is let go, so within
this process two claims are never given one address; no API call is made under a lock.

Without leader election other controllers may act at once, and the name is no lock between
the two kinds (a Metal3 and a Cluster API IPAddress are objects of two resources) nor
between pools whose ranges overlap (they name an address differently). Then the address's
Lease (:mod:`ipam.kube.address_lock`) is taken before step 1 and given back after step 2,
and under it the IPAddresses that could hold the address under another name are read: if
one does, the address is taken. A Lease held by someone else means "taken for now".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ipam.core import allocate, errors, ledger, names, view
from ipam.handlers import context, state
from ipam.kube import address_lock, bodies, client, resources

logger = logging.getLogger("ipam.allocation")

NAME_CLASH_ATTEMPTS = 16


@dataclass(frozen=True)
class Bound:
    """The claim holds ``object_name`` (``created``: made just now, else found)."""

    object_name: str
    address: str
    created: bool
    claim: bodies.ClaimRecord
    """The claim as it is after our writes."""


@dataclass(frozen=True)
class Failed:
    """The claim cannot be given an address now."""

    error: errors.IPAMError
    detail: str = ""


@dataclass(frozen=True)
class Deferred:
    """Nothing to write now; ``retry_in`` seconds later the claim is looked at again."""

    why: str
    retry_in: float | None = None


Outcome = Bound | Failed | Deferred


@dataclass(frozen=True)
class _Busy:
    """Another controller holds the address's lock: taken for now."""

    holder: str
    retry_in: float


@dataclass
class _Locked:
    """The address lock this allocation holds, and whether it may be given back."""

    locks: address_lock.Locks
    held: address_lock.Held
    unsure: bool = False
    """A create was sent under it and its outcome is unknown (no answer, a server error):
    the object may still land, so the Lease is given back only once it has expired."""


def _blocked(pool_state: state.PoolState, clashing: list[state.PoolState]) -> list[ledger.Holding]:
    """Addresses of this pool whose IPAddress name an object of another pool already took."""
    record = pool_state.record
    if record is None:
        return []
    found = []
    for other in clashing:
        for fact in other.facts.values():
            address = names.address_of_name(record.name_prefix, fact.name)
            if address is not None and record.pool.contains(address):
                found.append(view.outsider(address, other.name, fact.claim, fact.name))
    return found


def pool_view(ctx: context.Context, pool_state: state.PoolState) -> ledger.Ledger:
    """What allocation sees of a pool (and what its ``free`` counter counts)."""
    record = pool_state.record
    if record is None:
        return pool_state.book
    overlapping = ctx.registry.overlapping(pool_state)
    return view.allocation_view(
        pool_state.book,
        record.pool,
        [(other.name, other.book) for other in overlapping],
        _blocked(pool_state, ctx.registry.name_clashing(pool_state)),
    )


async def create(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    *,
    wanted: str | None = None,
) -> Outcome:
    """Choose an address (``wanted``, if given) and make it the claim's."""
    request = allocate.ClaimRequest(claim.key, wanted or claim.requested)
    outsiders: list[ledger.Holding] = []
    busy: _Busy | None = None
    for _ in range(NAME_CLASH_ATTEMPTS):
        pool = pool_state.record
        if pool is None:
            return Deferred("the pool is gone")
        overlapping = ctx.registry.overlapping(pool_state)
        async with ctx.registry.locked([pool_state, *overlapping]):
            seen = _view_for(ctx, pool_state, claim, outsiders)
            try:
                decision = allocate.allocate(pool.pool, seen, request, deleting=pool.meta.deleting)
            except errors.IPAMError as err:
                if busy is not None and isinstance(err, errors.PoolExhausted):
                    return Deferred(
                        f"the last free addresses are being given out by {busy.holder}",
                        retry_in=busy.retry_in,
                    )
                return Failed(err)
            reserved = ledger.Holding(decision.details.address, claim.key, decision.object_name)
            pool_state.reserve(reserved)
        try:
            outcome = await _make(ctx, claim, pool_state, pool, decision, reserved)
        except BaseException:
            pool_state.unreserve(reserved)
            raise
        if isinstance(outcome, _Busy):
            pool_state.unreserve(reserved)
            if _specific(pool, request, decision):
                return Deferred(
                    f"its address {decision.details.address} is being given out by "
                    f"{outcome.holder}",
                    retry_in=outcome.retry_in,
                )
            busy = outcome
        elif outcome is not None:
            if not isinstance(outcome, Bound):
                pool_state.unreserve(reserved)
            return outcome
        pool_state.unreserve(reserved)
        outsiders.append(
            view.outsider(decision.details.address, "?", claim.key, decision.object_name)
        )
    return Deferred("the IPAddress names kept clashing", retry_in=5.0)


def _specific(
    pool: bodies.PoolRecord, request: allocate.ClaimRequest, decision: allocate.Allocation
) -> bool:
    """Whether the claim can have only this address (it holds it, asks for it, or has it
    pre-allocated): then a locked address is waited for, not replaced."""
    return (
        decision.rebound
        or bool(request.requested)
        or request.claim.name in pool.pool.pre_allocations
    )


def _view_for(
    ctx: context.Context,
    pool_state: state.PoolState,
    claim: bodies.ClaimRecord,
    outsiders: list[ledger.Holding],
) -> ledger.Ledger:
    """The pool's view for this claim: objects naming it that it does not own (the claim
    judged them before) still take their addresses, but as someone else's; only its own
    reservation (a recorded address it waits for) counts as the claim's."""
    seen = pool_view(ctx, pool_state)
    foreign = [h for h in seen.holdings_of(claim.key) if h.identity in pool_state.facts]
    if not foreign and not outsiders:
        return seen
    if seen is pool_state.book:
        seen = seen.copy()
    for holding in foreign:
        seen.remove(holding)
        seen.add(
            view.outsider(holding.address, pool_state.name, holding.claim, holding.object_name)
        )
    for holding in outsiders:
        seen.add(holding)
    return seen


async def _make(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
    decision: allocate.Allocation,
    reserved: ledger.Holding,
) -> Outcome | _Busy | None:
    """Record, then create (under the address lock, if one is taken); None when the address
    was taken by someone else (try the next), :class:`_Busy` when it is locked."""
    if ctx.locks is None:
        return await _record_and_create(ctx, claim, pool_state, pool, decision, reserved, None)
    address = decision.details.address
    held = await ctx.locks.acquire(pool.meta.namespace, address, claim.meta.uid)
    if isinstance(held, address_lock.Busy):
        logger.info(
            "%s %s/%s: address %s of IPPool %s is being given out by %s (lock %s): taken for now.",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            address,
            pool.meta.name,
            held.holder,
            held.name,
        )
        return _Busy(held.holder, held.retry_in)
    locked = _Locked(ctx.locks, held)
    try:
        if await _held_elsewhere(ctx, claim, pool_state, pool, decision, reserved):
            return None
        return await _record_and_create(ctx, claim, pool_state, pool, decision, reserved, locked)
    finally:
        if locked.unsure:
            logger.warning(
                "%s %s/%s: no sure answer to creating IPAddress %s; its lock %s/%s is given "
                "back only when it expires (%.0fs), so nobody else makes that address while "
                "the create may still land.",
                claim.flavour.claim.kind,
                claim.meta.namespace,
                claim.meta.name,
                decision.object_name,
                locked.locks.namespace,
                held.name,
                locked.locks.duration,
            )
            locked.locks.release_when_expired(held)
        else:
            await locked.locks.release(held)


async def _held_elsewhere(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
    decision: allocate.Allocation,
    reserved: ledger.Holding,
) -> bool:
    """Whether an IPAddress whose name would not clash with ours holds the address: the
    other kind's of this name, or either kind's of a pool whose ranges overlap this one.

    A plain GET is a consistent read: an object made by whoever held the lock before us is
    seen, even when our watch has not brought it yet. Found, it goes into the ledger.
    """
    address = decision.details.address
    places = [(pool.meta.name, pool.name_prefix, _other_flavour(claim.flavour))]
    for other_pool in ctx.registry.overlapping(pool_state):
        other = other_pool.record
        if other is not None and other.pool.contains(address):
            places += [
                (other.meta.name, other.name_prefix, flavour)
                for flavour in resources.FLAVOURS.values()
            ]
    for pool_name, name_prefix, flavour in places:
        object_name = names.address_object_name(name_prefix, address)
        found = await ctx.api.get(flavour.address, pool.meta.namespace, object_name)
        if found is None:
            continue
        record = bodies.address_record(flavour, found)
        if record.pool_name != pool_name or record.address != bodies.canonical_ip(address):
            continue
        logger.info(
            "%s %s/%s: %s %s already holds %s (IPPool %s, %s %r): taking the next one.",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            flavour.address,
            object_name,
            record.address,
            pool_name,
            flavour.claim.kind,
            record.claim_name,
        )
        pool_state.unreserve(reserved)
        ctx.registry.observe_address(bodies.address_fact(record))
        return True
    return False


def _other_flavour(flavour: resources.Flavour) -> resources.Flavour:
    return resources.CAPI if flavour.kind == "metal3" else resources.METAL3


async def _record_and_create(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
    decision: allocate.Allocation,
    reserved: ledger.Holding,
    locked: _Locked | None,
) -> Outcome | None:
    """Record, then create; None when the name was taken by someone else (try the next)."""
    address = decision.details.address
    fresh = await record_on_claim(ctx, claim, address)
    if fresh is None:
        return Deferred("the claim is gone or being deleted")
    flavour = claim.flavour
    body = bodies.address_body(pool, fresh, decision.details, decision.object_name)
    if locked is not None:
        if not locked.locks.in_time(locked.held):
            logger.warning(
                "%s %s/%s: the lock of %s was taken too long ago to make its IPAddress "
                "safely under it (the API server is slow); trying again.",
                flavour.claim.kind,
                claim.meta.namespace,
                claim.meta.name,
                address,
            )
            return Deferred("the address lock was held too long", retry_in=1.0)
        locked.unsure = True
    try:
        result = await ctx.api.create(flavour.address, pool.meta.namespace, body)
    except client.KubeError as err:
        if locked is not None:
            locked.unsure = _transient(err) and err.status != 429
        if _transient(err):
            raise
        return Failed(errors.CreateFailed(), detail=str(err))
    if locked is not None:
        locked.unsure = False
    if isinstance(result, client.Created):
        ctx.registry.observe_address(
            bodies.address_fact(bodies.address_record(flavour, result.body))
        )
        return Bound(decision.object_name, address, created=True, claim=fresh)
    ctx.metrics.name_clashes.labels(flavour.kind).inc()
    found = await ctx.api.get(flavour.address, pool.meta.namespace, decision.object_name)
    if found is None:
        return None  # deleted in between: try again, maybe the same address
    record = bodies.address_record(flavour, found)
    logger.info(
        "IPAddress %s/%s already exists (address %s, pool %r, claim %r): taking the next one.",
        pool.meta.namespace,
        decision.object_name,
        record.address,
        record.pool_name,
        record.claim_name,
    )
    pool_state.unreserve(reserved)
    ctx.registry.observe_address(bodies.address_fact(record))
    if (
        record.pool_name == pool.meta.name
        and record.claim == claim.key
        and not record.meta.deleting
    ):
        return Bound(record.meta.name, record.address, created=False, claim=fresh)
    return None


def _transient(err: client.KubeError) -> bool:
    """Unreachable, overloaded or failing servers: try again later, the claim is not at fault."""
    return isinstance(err, client.Unreachable) or (
        err.status is not None and (err.status >= 500 or err.status == 429)
    )


async def record_on_claim(
    ctx: context.Context, claim: bodies.ClaimRecord, address: str
) -> bodies.ClaimRecord | None:
    """The claim with our finalizer and ``address`` recorded; None when gone or being deleted.

    One conditional write, and none when both are there already. A conflict re-reads the
    claim: if another controller recorded another address meanwhile, that one stands and
    this returns None (the claim is looked at again).
    """
    flavour = claim.flavour
    annotation = resources.RECORDED_ADDRESS_ANNOTATION
    if (
        claim.has_finalizer
        and not claim.meta.deleting
        and claim.meta.annotations.get(annotation) == address
    ):
        return claim  # the common re-check: nothing to write, nothing to parse again
    decided = address

    def change(meta: Mapping[str, Any]) -> dict[str, Any] | None:
        nonlocal decided
        if meta.get("deletionTimestamp"):
            return None
        finalizers = list(meta.get("finalizers") or [])
        annotations = meta.get("annotations") or {}
        current = annotations.get(annotation)
        if current and current != address and current != claim.meta.annotations.get(annotation):
            decided = str(current)  # recorded by someone else since we read the claim
            return None
        wanted: dict[str, Any] = {}
        if flavour.claim_finalizer not in finalizers:
            wanted["finalizers"] = [*finalizers, flavour.claim_finalizer]
        if current != address:
            wanted["annotations"] = {annotation: address}
        return wanted or None

    try:
        body = await ctx.api.update_metadata(flavour.claim, claim.body, change)
    except client.KubeError as err:
        if err.status == 422:  # no new finalizers on an object being deleted
            return None
        raise
    if body is None:
        return None
    fresh = bodies.claim_record(flavour, body)
    if fresh.meta.deleting or fresh.meta.uid != claim.meta.uid or decided != address:
        return None
    if not fresh.has_finalizer or fresh.recorded != (bodies.canonical_ip(address)):
        return None
    if fresh.meta.resource_version != claim.meta.resource_version:
        ctx.registry.wrote_claim(fresh.meta.namespace, fresh.key, fresh.meta.resource_version)
    return fresh


async def repair(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool: bodies.PoolRecord,
    fact: bodies.AddressFact,
) -> None:
    """Put back what an IPAddress of the claim lost: our finalizer, its owners, the claim's labels.

    Only what is missing is written back (labels the claim has and the object lacks); what
    someone added is left alone.
    """
    flavour = claim.flavour
    wanted_owners = bodies.address_owners(flavour, pool.meta, claim.meta)
    owners_ok = all(
        any(
            (o[0], o[1], o[2], o[3], o[4])
            == (
                w["kind"],
                w["name"],
                w["uid"],
                w.get("controller") is True,
                w.get("blockOwnerDeletion") is True,
            )
            for o in fact.owners
        )
        for w in wanted_owners
    )
    present = dict(fact.labels)
    missing = {k: v for k, v in claim.meta.labels.items() if present.get(k) != v}
    labels_ok = not missing
    if fact.ours and owners_ok and labels_ok:
        return
    body = await ctx.api.get(flavour.address, fact.namespace, fact.name)
    if body is None or bodies.meta_of(body).uid != fact.uid:
        return
    meta = bodies.meta_of(body)
    patch: dict[str, Any] = {"resourceVersion": meta.resource_version}
    if not fact.ours:
        patch["finalizers"] = [*meta.finalizers, flavour.address_finalizer]
    if not owners_ok:
        keep = [
            dict(o)
            for o in meta.owner_references
            if not any(
                o.get("kind") == w["kind"] and o.get("name") == w["name"] for w in wanted_owners
            )
        ]
        patch["ownerReferences"] = [*keep, *wanted_owners]
    if not labels_ok:
        patch["labels"] = missing
    try:
        written = await ctx.api.patch(
            flavour.address, fact.namespace, fact.name, {"metadata": patch}
        )
    except client.Conflict:
        return  # changed meanwhile: its event brings us back
    if written is not None:
        ctx.registry.observe_address(bodies.address_fact(bodies.address_record(flavour, written)))
        logger.info(
            "%s %s/%s: repaired the metadata of its IPAddress %s (%s).",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            fact.name,
            ", ".join(
                part
                for part, broken in (
                    ("finalizer", not fact.ours),
                    ("owner references", not owners_ok),
                    ("labels", not labels_ok),
                )
                if broken
            ),
        )
