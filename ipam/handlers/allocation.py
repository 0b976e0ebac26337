"""Giving a claim its address: decide in the core, create the IPAddress, let the name arbitrate.

Decisions for one pool are taken under its lock (and the locks of pools whose ranges
overlap it), and the chosen address is reserved in the ledger before the lock is let go,
so within this process two claims are never given one address. Across processes the
IPAddress name is the arbiter: AlreadyExists means the address is taken, so the object is
read, put in the ledger, and the next candidate tried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ipam.core import allocate, errors, ledger
from ipam.handlers import context, state
from ipam.kube import bodies, client

logger = logging.getLogger("ipam.allocation")

NAME_CLASH_ATTEMPTS = 16


@dataclass(frozen=True)
class Bound:
    """The claim holds ``object_name`` (``created``: made just now, else found)."""

    object_name: str
    address: str
    created: bool


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


def _outsider(address: str, pool: str, claim: ledger.ClaimKey, object_name: str) -> ledger.Holding:
    """A holding from outside this pool; its claim name can never equal a real one."""
    return ledger.Holding(
        address, ledger.ClaimKey(claim.kind, f"\0{pool}/{claim.name}"), object_name
    )


def _view(
    pool_state: state.PoolState,
    overlapping: list[state.PoolState],
    outsiders: list[ledger.Holding],
) -> ledger.Ledger:
    """The pool's ledger, plus what overlapping pools and clashing names hold inside it."""
    if not overlapping and not outsiders:
        return pool_state.book
    assert pool_state.record is not None
    pool = pool_state.record.pool
    view = pool_state.book.copy()
    for other in overlapping:
        for holding in other.book.holdings():
            if pool.contains(holding.address) and not view.is_used(holding.address):
                view.add(_outsider(holding.address, other.name, holding.claim, holding.object_name))
    for holding in outsiders:
        view.add(holding)
    return view


async def create_address(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    overlapping: list[state.PoolState],
) -> Outcome:
    """Choose an address and create its IPAddress; the claim is alive and carries our finalizer.

    The pool locks cover the decision and a reservation of the chosen address in the
    ledger, not the API call: the next claim of the pool is decided while this one's
    IPAddress is being created, so a burst of claims keeps many creations in flight, and
    none of them can be given an address another holds or has reserved.
    """
    pool = pool_state.record
    assert pool is not None
    flavour = claim.flavour
    request = allocate.ClaimRequest(claim.key, claim.requested)
    outsiders: list[ledger.Holding] = []
    for _ in range(NAME_CLASH_ATTEMPTS):
        async with ctx.registry.locked([pool_state, *overlapping]):
            if pool_state.record is None:
                return Deferred("the pool is gone")
            held = pool_state.book.held_by(claim.key)
            if held is not None:
                return Bound(held.object_name, held.address, created=False)
            view = _view(pool_state, overlapping, outsiders)
            try:
                decision = allocate.allocate(pool.pool, view, request, deleting=pool.meta.deleting)
            except errors.IPAMError as err:
                return Failed(err)
            if decision.rebound:
                return Bound(decision.object_name, decision.details.address, created=False)
            reserved = ledger.Holding(decision.details.address, claim.key, decision.object_name)
            pool_state.book.add(reserved)
        body = bodies.address_body(pool, claim, decision.details, decision.object_name)
        try:
            result = await ctx.api.create(flavour.address, pool.meta.namespace, body)
        except BaseException as err:
            pool_state.unreserve(reserved)
            if isinstance(err, client.KubeError) and not _transient(err):
                return Failed(errors.CreateFailed(), detail=str(err))
            raise
        if isinstance(result, client.Created):
            ctx.registry.observe_address(bodies.address_record(flavour, result.body))
            return Bound(decision.object_name, decision.details.address, created=True)
        pool_state.unreserve(reserved)
        ctx.metrics.name_clashes.labels(flavour.kind).inc()
        found = await ctx.api.get(flavour.address, pool.meta.namespace, decision.object_name)
        if found is None:
            continue  # deleted in between: try again, maybe the same address
        record = bodies.address_record(flavour, found)
        logger.info(
            "IPAddress %s/%s already exists (address %s, pool %r, claim %r): taking the next one.",
            pool.meta.namespace,
            decision.object_name,
            record.address,
            record.pool_name,
            record.claim_name,
        )
        if record.pool_name == pool.meta.name:
            ctx.registry.observe_address(record)
            if record.claim == claim.key:
                return Bound(record.meta.name, record.address, created=False)
        else:
            outsiders.append(
                _outsider(
                    decision.details.address,
                    record.pool_name or "?",
                    record.claim,
                    record.meta.name,
                )
            )
    return Deferred("the IPAddress names kept clashing", retry_in=ctx.options.error_retry)


def _transient(err: client.KubeError) -> bool:
    """Unreachable, overloaded or failing servers: try again later, the claim is not at fault."""
    return isinstance(err, client.Unreachable) or (
        err.status is not None and (err.status >= 500 or err.status == 429)
    )
