"""One claim of either kind made true, whenever anything happens: bound, told why not, or released.

The reconcile is level-based: it looks at the claim, the pool and the ledger as they are
now and makes the claim's status agree, whether it runs for the first or the hundredth
time. Writes happen only for differences, so a claim that is already right costs no API
call. A claim that could not be served is remembered as waiting and retried whenever its
pool frees an address or changes (upstream leaves such claims failed for good, #1537).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from ipam.core import errors, validation
from ipam.handlers import allocation, context, pause, pool_status, release, state
from ipam.kube import bodies, client, resources, statuses

logger = logging.getLogger("ipam.claims")


async def reconcile(
    ctx: context.Context, flavour: resources.Flavour, body: Mapping[str, Any]
) -> None:
    """Make one claim true; API errors schedule another attempt instead of escaping."""
    claim = bodies.claim_record(flavour, body)
    if not claim.served:
        return  # a CAPI claim for another provider's pool: not ours, not even a finalizer
    async with ctx.registry.claim_turn(claim.meta.namespace, claim.key), ctx.slots:
        if ctx.registry.stale_claim(claim.meta.namespace, claim.key, claim.meta.resource_version):
            return  # older than our own last write: the event of that write is on its way
        try:
            if claim.meta.deleting:
                freed = await release.release_claim(ctx, claim)
                if freed is not None:
                    pool_status.schedule(ctx, freed)
                    retry_waiting(ctx, freed)
            else:
                await _bind(ctx, claim)
        except client.KubeError as err:
            ctx.metrics.api_errors.labels(flavour.claim.plural).inc()
            logger.warning(
                "%s %s/%s: %s; trying again in %.0fs.",
                flavour.claim.kind,
                claim.meta.namespace,
                claim.meta.name,
                err,
                ctx.options.error_retry,
            )
            retry_later(
                ctx, flavour, claim.meta.namespace, claim.meta.name, ctx.options.error_retry
            )


async def _bind(ctx: context.Context, claim: bodies.ClaimRecord) -> None:
    problems = validation.validate_claim(claim.body) if claim.flavour.kind == "metal3" else []
    if not claim.pool_name or any(p.path == "spec.pool.name" for p in problems):
        message = (
            "; ".join(f"{p.path}: {p.message}" for p in problems)
            or "spec.poolRef.name: cannot be empty"
        )
        await _write_failure(ctx, claim, allocation.Failed(errors.IPAMError(message)))
        return
    pool_state = ctx.registry.pool(claim.meta.namespace, claim.pool_name)
    held = pool_state.book.held_by(claim.key)
    ctx.registry.note_claim(claim, waiting=held is None)
    pool = await _pool(ctx, pool_state)
    hold = await pause.claim_hold(ctx, claim, pool)
    if hold is not None:
        logger.debug(
            "%s %s/%s left alone: %s.",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            hold,
        )
        return
    if pool is None:
        logger.info(
            "%s %s/%s waits for IPPool %s, which does not exist.",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            claim.pool_name,
        )
        return
    if held is not None:
        keep, extras = pool_state.split_holdings(claim.key)
        if extras and keep is not None:
            await release.give_back_extras(ctx, claim, pool_state, keep, extras)
            held = keep.holding
        await _write_bound(
            ctx, claim, allocation.Bound(held.object_name, held.address, created=False)
        )
        return
    started = time.monotonic()
    if claim.has_finalizer:
        if not claim.error_message and claim.condition("Ready") is None:
            wait = _grace_left(pool_state, claim, ctx.options.rebind_grace)
            if wait > 0:
                deferred = allocation.Deferred(
                    "it was served before but no IPAddress of it is known yet", retry_in=wait
                )
                await _apply(ctx, (claim, deferred), started)
                return
    else:
        fresh = await _add_finalizer(ctx, claim)
        if fresh is None:
            return  # gone, or being deleted: its deletion event takes over
        claim = fresh
    overlapping = ctx.registry.overlapping(pool_state)
    outcome = await allocation.create_address(ctx, claim, pool_state, overlapping)
    await _apply(ctx, (claim, outcome), started)


async def _pool(ctx: context.Context, pool_state: state.PoolState) -> bodies.PoolRecord | None:
    if pool_state.record is None:
        body = await ctx.api.get(resources.IPPOOL, pool_state.namespace, pool_state.name)
        if body is not None:
            ctx.registry.observe_pool(bodies.pool_record(body))
    return pool_state.record


def _grace_left(pool_state: state.PoolState, claim: bodies.ClaimRecord, grace: float) -> float:
    """Seconds this claim should still wait for its IPAddress to arrive (after a move)."""
    now = time.monotonic()
    first = pool_state.first_unbound.setdefault(claim.key, now)
    return max(0.0, first + grace - now)


async def _add_finalizer(
    ctx: context.Context, claim: bodies.ClaimRecord
) -> bodies.ClaimRecord | None:
    """The claim as it is after our finalizer was added; None when gone or being deleted."""
    try:
        body = await ctx.api.add_finalizer(
            claim.flavour.claim, claim.body, claim.flavour.claim_finalizer
        )
    except client.KubeError as err:
        if err.status == 422:  # no new finalizers on an object being deleted
            return None
        raise
    if body is None:
        return None
    fresh = bodies.claim_record(claim.flavour, body)
    if fresh.meta.deleting or not fresh.has_finalizer or fresh.meta.uid != claim.meta.uid:
        return None
    ctx.registry.wrote_claim(fresh.meta.namespace, fresh.key, fresh.meta.resource_version)
    return fresh


async def _apply(
    ctx: context.Context,
    result: tuple[bodies.ClaimRecord, allocation.Outcome],
    started: float,
) -> None:
    claim, outcome = result
    if isinstance(outcome, allocation.Bound):
        if outcome.created:
            ctx.metrics.allocation_seconds.labels(claim.flavour.kind).observe(
                time.monotonic() - started
            )
            ctx.metrics.allocations.labels(claim.flavour.kind).inc()
        await _write_bound(ctx, claim, outcome)
    elif isinstance(outcome, allocation.Failed):
        await _write_failure(ctx, claim, outcome)
    elif outcome.retry_in is not None:
        logger.info(
            "%s %s/%s: not now, %s; looking again in %.1fs.",
            claim.flavour.claim.kind,
            claim.meta.namespace,
            claim.meta.name,
            outcome.why,
            outcome.retry_in,
        )
        retry_later(ctx, claim.flavour, claim.meta.namespace, claim.meta.name, outcome.retry_in)


async def _write_bound(
    ctx: context.Context, claim: bodies.ClaimRecord, bound: allocation.Bound
) -> None:
    ctx.registry.note_claim(claim, waiting=False)
    pool_state = ctx.registry.pool(claim.meta.namespace, claim.pool_name)
    pool_state.first_unbound.pop(claim.key, None)
    patch = statuses.claim_bound(claim, bound.object_name, claim.meta.namespace)
    if patch:
        await _patch_status(ctx, claim, patch)
    kind = claim.flavour.claim.kind
    if bound.created:
        logger.info(
            "%s %s/%s: allocated %s from pool %s (IPAddress %s).",
            kind,
            claim.meta.namespace,
            claim.meta.name,
            bound.address,
            claim.pool_name,
            bound.object_name,
        )
        ctx.event_on_claim(
            claim,
            "Normal",
            "Allocated",
            f"Address {bound.address} allocated from pool {claim.pool_name} (IPAddress {bound.object_name})",
        )
        pool_status.schedule(ctx, pool_state)
    elif patch:
        logger.info(
            "%s %s/%s: bound to its existing IPAddress %s (%s).",
            kind,
            claim.meta.namespace,
            claim.meta.name,
            bound.object_name,
            bound.address,
        )
        ctx.event_on_claim(
            claim,
            "Normal",
            "Bound",
            f"Bound to existing IPAddress {bound.object_name} ({bound.address}) of pool {claim.pool_name}",
        )


async def _write_failure(
    ctx: context.Context, claim: bodies.ClaimRecord, failed: allocation.Failed
) -> None:
    ctx.registry.note_claim(claim, waiting=True)
    error = failed.error
    patch = statuses.claim_failed(claim, error.message, error.reason)
    if not patch:
        return
    ctx.metrics.allocation_errors.labels(claim.flavour.kind, error.reason).inc()
    detail = f": {failed.detail}" if failed.detail else ""
    logger.warning(
        "%s %s/%s: %s%s (pool %s); it will be retried when the pool frees an address or changes.",
        claim.flavour.claim.kind,
        claim.meta.namespace,
        claim.meta.name,
        error.message,
        detail,
        claim.pool_name,
    )
    await _patch_status(ctx, claim, patch)
    ctx.event_on_claim(claim, "Warning", error.reason, f"{error.message}{detail}")


async def _patch_status(
    ctx: context.Context, claim: bodies.ClaimRecord, patch: dict[str, Any]
) -> None:
    written = await ctx.api.patch(
        claim.flavour.claim, claim.meta.namespace, claim.meta.name, {"status": patch}, status=True
    )
    if written is not None:
        version = bodies.meta_of(written).resource_version
        ctx.registry.wrote_claim(claim.meta.namespace, claim.key, version)


# --- retries ---------------------------------------------------------------------------------


async def reconcile_by_name(
    ctx: context.Context, flavour: resources.Flavour, namespace: str, name: str
) -> None:
    try:
        body = await ctx.api.get(flavour.claim, namespace, name)
    except client.KubeError as err:
        logger.warning("Could not read %s %s/%s: %s", flavour.claim.kind, namespace, name, err)
        retry_later(ctx, flavour, namespace, name, ctx.options.error_retry)
        return
    if body is None:
        ctx.registry.forget_claim(
            namespace, bodies.claim_record(flavour, {"metadata": {"name": name}}).key
        )
        return
    await reconcile(ctx, flavour, body)


def retry_later(
    ctx: context.Context, flavour: resources.Flavour, namespace: str, name: str, delay: float
) -> None:
    async def later() -> None:
        await asyncio.sleep(delay)
        await reconcile_by_name(ctx, flavour, namespace, name)

    ctx.spawn(later(), name=f"retry {flavour.kind} {namespace}/{name}")


def retry_waiting(ctx: context.Context, pool_state: state.PoolState) -> None:
    """Soon, look again at every claim of the pool that waits for an address."""
    if pool_state.retry_task is not None and not pool_state.retry_task.done():
        return

    async def retry() -> None:
        await asyncio.sleep(ctx.options.retry_delay)
        pool_state.retry_task = None
        for key in pool_state.waiting():
            await reconcile_by_name(
                ctx, resources.FLAVOURS[key.kind], pool_state.namespace, key.name
            )

    pool_state.retry_task = ctx.spawn(retry(), name=f"retry waiting claims of {pool_state.key}")
