"""One claim of either kind made true, whenever its key comes up: bound, told why not, or released.

The reconcile is level-based: it looks at the claim, its pool and the pool's ledger as they
are now and makes the claim agree, whether it runs for the first or the hundredth time.
Writes happen only for differences, so a claim that is already right costs no API call. A
claim that cannot be served now says why (status, condition, one Event) and is woken when
its pool frees an address, changes, or appears.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ipam.core import arrival, errors, keeper, ledger, names, validation
from ipam.handlers import allocation, context, pause, pools, release, state
from ipam.kube import bodies, resources, statuses

logger = logging.getLogger("ipam.claims")

INVALID = "InvalidClaim"
PAUSED = "Paused"


async def reconcile(ctx: context.Context, ref: context.ClaimRef) -> float | None:
    """Make one claim true; returns seconds until it wants another look, if it does."""
    flavour = resources.FLAVOURS[ref.kind]
    body = ctx.take_body(ref)
    if body is None and ctx.take_deleted(ref):
        gone(ctx, ref)
        return None
    if body is None:
        body = await ctx.api.get(flavour.claim, ref.namespace, ref.name)
    if body is None:
        gone(ctx, ref)
        return None
    claim = bodies.claim_record(flavour, body)
    if not claim.served:
        return None  # a Cluster API claim for another provider's pool: not ours at all
    if ctx.registry.stale_claim(claim.meta.namespace, claim.key, claim.meta.resource_version):
        return None  # older than our own last write: the event of that write is on its way
    if claim.meta.deleting:
        return await release.release_claim(ctx, claim)
    return await _serve(ctx, claim)


def gone(ctx: context.Context, ref: context.ClaimRef) -> None:
    """The claim no longer exists: its objects are checked (orphans), its state dropped."""
    key = ledger.ClaimKey(ref.kind, ref.name)
    for pool_state in list(ctx.registry.by_namespace.get(ref.namespace, {}).values()):
        for fact in pool_state.facts_of(key):
            if fact.ours and not fact.deleting:
                ctx.address(context.AddressRef(fact.kind, fact.namespace, fact.name))
    ctx.registry.forget_claim(ref.namespace, key)


def where(claim: bodies.ClaimRecord) -> str:
    return f"{claim.flavour.claim.kind} {claim.meta.namespace}/{claim.meta.name}"


async def _serve(ctx: context.Context, claim: bodies.ClaimRecord) -> float | None:
    invalid = _invalid(claim)
    if invalid:
        await write_failure(ctx, claim, errors.IPAMError(invalid), reason=INVALID)
        return None
    pool_state = ctx.registry.pool(claim.meta.namespace, claim.pool_name)
    pool = await pools.current(ctx, pool_state)
    hold = await pause.claim_hold(ctx, claim, pool)
    if hold is not None:
        if hold.waiting:
            await write_waiting(ctx, claim, hold.reason, f"Waiting: {hold.why}")
        elif not (claim.address_name or claim.recorded):
            # A pause writes nothing on the claim, but one that waits for an address is
            # told why in an Event (a bound claim loses nothing by a pause).
            announce(ctx, claim, "Normal", PAUSED, f"Not served while paused: {hold.why}")
        else:
            logger.debug("%s left alone: %s.", where(claim), hold.why)
        return None
    if pool is None:
        pool_state.waiting.add(claim.key)
        await write_waiting(
            ctx,
            claim,
            resources.POOL_NOT_READY_REASON,
            f"IPPool {claim.pool_name} does not exist in namespace {claim.meta.namespace} (yet)",
        )
        return None
    kept = await _owned(ctx, claim, pool_state, pool)
    if kept is not None:
        return await _keep(ctx, claim, pool_state, pool, kept)
    return await _serve_unbound(ctx, claim, pool_state, pool)


def _invalid(claim: bodies.ClaimRecord) -> str:
    """Why the claim itself cannot be served (an empty string when it can)."""
    if claim.flavour.kind == "metal3":
        # The ipAddress annotation is judged by allocation, in upstream's words.
        problems = [p for p in validation.validate_claim(claim.body) if p.path.startswith("spec.")]
        if problems:
            return "; ".join(f"{p.path}: {p.message}" for p in problems)
        if not names.is_object_name(claim.pool_name):
            return _no_such_name("spec.pool.name", claim.pool_name)
        if claim.pool_namespace and claim.pool_namespace != claim.meta.namespace:
            return (
                f"spec.pool.namespace: IPPool {claim.pool_name} is in namespace "
                f"{claim.pool_namespace}; a claim can only use a pool of its own namespace "
                f"({claim.meta.namespace})"
            )
    elif not claim.pool_name:
        return "spec.poolRef.name: cannot be empty"
    elif not names.is_object_name(claim.pool_name):
        return _no_such_name("spec.poolRef.name", claim.pool_name)
    return ""


def _no_such_name(path: str, name: str) -> str:
    return (
        f"{path}: {name!r} is not a valid object name (a lowercase RFC 1123 subdomain), "
        "so no IPPool can ever have it"
    )


def facts_of_claim(claim: bodies.ClaimRecord) -> keeper.ClaimFacts:
    return keeper.ClaimFacts(
        recorded=claim.recorded, status_name=claim.address_name, requested=claim.requested
    )


async def _owned(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
) -> bodies.AddressFact | None:
    """The object the claim keeps (extras given back, refused ones reported), or None."""
    facts = facts_of_claim(claim)
    owned: list[keeper.Candidate] = []
    refused: list[str] = []
    by_identity: dict[ledger.ObjectId, bodies.AddressFact] = {}
    for fact in pool_state.facts_of(claim.key):
        if fact.deleting:
            continue
        candidate = keeper.Candidate(fact.holding, created=fact.created, ours=fact.ours)
        verdict = keeper.judge(candidate, facts, pool.pool, pool_state.book)
        by_identity[fact.identity] = fact
        if verdict.owned:
            owned.append(candidate)
        else:
            refused.append(f"IPAddress {fact.name} ({fact.address}) not adopted: {verdict.why}")
    if refused:
        announce(ctx, claim, "Warning", "AddressNotAdopted", "; ".join(refused))
    keep, extras = keeper.keep(owned, facts, pool.name_prefix)
    if keep is None:
        return None
    kept = by_identity[keep.holding.identity]
    if extras:
        await release.give_back_extras(
            ctx, claim, pool_state, kept, [by_identity[c.holding.identity] for c in extras]
        )
    return kept


async def _keep(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
    kept: bodies.AddressFact,
) -> float | None:
    """The claim holds ``kept``: record it on the claim, repair the object, bind the status."""
    fresh = await allocation.record_on_claim(ctx, claim, kept.address)
    if fresh is None:
        return None  # gone, or being deleted: its next event takes over
    await allocation.repair(ctx, fresh, pool, kept)
    pool_state.waiting.discard(claim.key)
    pool_state.first_unbound.pop(claim.key, None)
    await write_bound(ctx, fresh, pool_state, kept.name, kept.address, created=False)
    return None


async def _serve_unbound(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
) -> float | None:
    """The claim holds nothing: wait for what is on its way, or allocate."""
    if (claim.meta.namespace, claim.key) in ctx.registry.moved_away:
        logger.debug("%s: its IPAddress left with clusterctl move; left alone.", where(claim))
        return None
    now = time.monotonic()
    first = pool_state.first_unbound.setdefault(claim.key, now)
    recorded = claim.recorded
    if recorded:
        pool_state.claim_back(claim.key, recorded)
    holder = pool_state.book.holder_of(recorded) if recorded else None
    # Only an IPAddress seen holding the recorded address takes it from the claim. A mere
    # reservation of it for another claim is this process's guess (its creation will fail
    # on the name when another controller made the recorded one): the claim waits for it.
    # An address kept for a claim that a move took away is held, not guessed.
    guessed = (
        holder is not None
        and holder.identity not in pool_state.facts
        and not state.is_moved_away(holder)
    )
    taker = holder.claim if holder and not guessed else None
    served_before = (
        claim.has_finalizer
        and recorded is None
        and not claim.error_message
        and claim.condition(resources.READY_CONDITION) is None
    )
    waited = now - first
    recreating = (
        recorded is not None and taker in (None, claim.key) and waited >= ctx.options.rebind_grace
    )
    plan = arrival.unbound_claim(
        claim=claim.key,
        recorded=recorded,
        holder_of_recorded=taker,
        served_before=served_before,
        waited=waited,
        grace=ctx.options.rebind_grace,
        pool_settles_in=_settle_wait(ctx, pool_state, pool, now) if recreating else 0.0,
    )
    if isinstance(plan, arrival.Wait):
        if recreating:
            pool_state.waiting.add(claim.key)
        if recorded is not None and holder is None:
            pool_state.reserve(
                ledger.Holding(
                    recorded, claim.key, names.address_object_name(pool.name_prefix, recorded)
                )
            )
        logger.info("%s: waiting for %s (%.0fs at most).", where(claim), plan.why, plan.retry_in)
        return plan.retry_in
    wanted = plan.address if isinstance(plan, arrival.Recreate) else None
    if isinstance(plan, arrival.Allocate) and plan.note:
        announce(
            ctx, claim, "Warning", "RecordedAddressTaken", f"A new address is chosen: {plan.note}"
        )
    started = time.monotonic()
    if wanted is None:
        wait = _settle_wait(ctx, pool_state, pool, now)
        if wait > 0:
            pool_state.waiting.add(claim.key)
            return wait
    outcome = await allocation.create(ctx, claim, pool_state, wanted=wanted)
    if isinstance(outcome, allocation.Failed) and wanted is not None:
        logger.info(
            "%s: its recorded address %s cannot be had again (%s); choosing another.",
            where(claim),
            wanted,
            outcome.error.message,
        )
        for holding in pool_state.book.holdings_of(claim.key):
            pool_state.unreserve(holding)
        wait = _settle_wait(ctx, pool_state, pool, now)
        if wait > 0:
            pool_state.waiting.add(claim.key)
            return wait
        outcome = await allocation.create(ctx, claim, pool_state, wanted=None)
    if isinstance(outcome, allocation.Bound):
        if outcome.created:
            ctx.metrics.allocation_seconds.labels(claim.flavour.kind).observe(
                time.monotonic() - started
            )
            ctx.metrics.allocations.labels(claim.flavour.kind).inc()
        pool_state.waiting.discard(claim.key)
        pool_state.first_unbound.pop(claim.key, None)
        ctx.holdings_changed(pool_state)
        return await write_bound(
            ctx,
            outcome.claim,
            pool_state,
            outcome.object_name,
            outcome.address,
            created=outcome.created,
        )
    if isinstance(outcome, allocation.Failed):
        pool_state.waiting.add(claim.key)
        await write_failure(ctx, claim, outcome.error, detail=outcome.detail)
        return None
    if outcome.retry_in is not None:
        logger.info(
            "%s: not now, %s; looking again in %.1fs.", where(claim), outcome.why, outcome.retry_in
        )
    return outcome.retry_in


def _settle_wait(
    ctx: context.Context, pool_state: state.PoolState, pool: bodies.PoolRecord, now: float
) -> float:
    """Seconds to wait before serving a claim that holds nothing (a move still arriving)."""
    if pool_state.settled:
        return 0.0
    awaiting = pool_state.awaiting()
    if pool_state.unsettled_since is None:
        pool_state.unsettled_since = now
    # The wait counts from the latest arrival: a slow clusterctl creating hundreds of
    # IPAddresses is still at work as long as they keep coming.
    quiet_since = max(pool_state.unsettled_since, pool_state.arrived_at or 0.0)
    wait = arrival.fresh_allocation_wait(
        awaiting=awaiting, waited=now - quiet_since, settle=ctx.options.move_settle
    )
    if wait <= 0:
        pool_state.settled = True
        if awaiting > 0:
            logger.warning(
                "IPPool %s/%s: %d recorded held address(es) never arrived (none for %.0fs): "
                "serving claims that hold nothing again.",
                pool_state.namespace,
                pool_state.name,
                awaiting,
                ctx.options.move_settle,
            )
        ctx.wake_waiting(pool_state)  # the others that waited are served too
        return 0.0
    if awaiting != pool_state.awaiting_told:  # once per change, not once per waiting claim
        pool_state.awaiting_told = awaiting
        logger.info(
            "IPPool %s/%s records %d more held address(es) than are known (a move in progress?): "
            "new addresses wait until none has arrived for %.0fs (%.0fs from now at the least).",
            pool_state.namespace,
            pool_state.name,
            awaiting,
            ctx.options.move_settle,
            wait,
        )
    return wait


# --- writing the claim's status ---------------------------------------------------------------


async def write_bound(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    object_name: str,
    address: str,
    *,
    created: bool,
) -> float | None:
    patch = statuses.claim_bound(claim, object_name, claim.meta.namespace)
    ctx.registry.reported.pop((claim.meta.namespace, claim.key), None)
    if patch:
        written = await _patch_status(ctx, claim, patch)
        if written is None and created:
            # The claim vanished while its address was being created (a delete racing our
            # finalizer can win): give the address back now instead of leaking it.
            fact = ctx.registry.fact(claim.flavour.kind, claim.meta.namespace, object_name)
            if fact is not None:
                await release.release_orphan(
                    ctx,
                    pool_state,
                    fact,
                    why="its claim was deleted while the address was being created",
                )
            return None
    if created:
        logger.info(
            "%s: allocated %s from pool %s (IPAddress %s).",
            where(claim),
            address,
            claim.pool_name,
            object_name,
        )
        ctx.tally_on_pool(pool_state.record, claim, "Allocated", address)
    elif patch:
        logger.info(
            "%s: bound to its existing IPAddress %s (%s).", where(claim), object_name, address
        )
        ctx.tally_on_pool(pool_state.record, claim, "Bound", address)
    return None


async def write_failure(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    error: errors.IPAMError,
    *,
    reason: str | None = None,
    detail: str = "",
) -> None:
    reason = reason or error.reason
    patch = statuses.claim_failed(claim, error.message, reason)
    if patch:
        ctx.metrics.allocation_errors.labels(claim.flavour.kind, reason).inc()
        await _patch_status(ctx, claim, patch)
    suffix = f": {detail}" if detail else ""
    announce(ctx, claim, "Warning", reason, f"{error.message}{suffix}")


async def write_waiting(
    ctx: context.Context, claim: bodies.ClaimRecord, reason: str, message: str
) -> None:
    patch = statuses.claim_waiting(claim, reason, message)
    if patch:
        await _patch_status(ctx, claim, patch)
    announce(ctx, claim, "Normal", reason, message)


def announce(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    type_: str,
    reason: str,
    message: str,
) -> None:
    """Log and post an Event about the claim, once per distinct message."""
    key = (claim.meta.namespace, claim.key)
    text = f"{reason}: {message}"
    if ctx.registry.reported.get(key) == text:
        return
    ctx.registry.reported[key] = text
    log = logger.warning if type_ == "Warning" else logger.info
    log("%s: %s", where(claim), message)
    ctx.event_on_claim(claim, "Warning" if type_ == "Warning" else "Normal", reason, message)


async def _patch_status(
    ctx: context.Context, claim: bodies.ClaimRecord, patch: dict[str, object]
) -> bodies.Body | None:
    written = await ctx.api.patch(
        claim.flavour.claim, claim.meta.namespace, claim.meta.name, {"status": patch}, status=True
    )
    if written is not None:
        version = bodies.meta_of(written).resource_version
        ctx.registry.wrote_claim(claim.meta.namespace, claim.key, version)
    return written


def refs_naming(
    bodies_: Sequence[bodies.Body], flavour: resources.Flavour, pool: str
) -> list[context.ClaimRef]:
    """The claims among listed bodies that name ``pool``."""
    found = []
    for body in bodies_:
        record = bodies.claim_record(flavour, body)
        if record.served and record.pool_name == pool:
            found.append(context.ClaimRef(flavour.kind, record.meta.namespace, record.meta.name))
    return found
