"""Addresses given back: a deleted claim's, a claim's extra ones, and those whose claim is gone.

A deleted claim's objects are found from facts that cannot miss a fresh creation: the
ledger (which includes what this process created and the watch has not shown yet), the
object its status names, and the object of the address its metadata records. Each is
deleted (only that incarnation, by uid), our finalizer taken off it, and then our
finalizer taken off the claim.

Nothing is released while other finalizers remain on the claim (CAPM3 removes its own
first; the claim says which finalizers it waits for), while the claim or its pool is
paused, or when clusterctl deletes the claim for a move (``delete-for-move``): then only
our finalizer is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ipam.core import names
from ipam.handlers import context, pause, state
from ipam.kube import bodies, resources, statuses

logger = logging.getLogger("ipam.release")


def _where(claim: bodies.ClaimRecord) -> str:
    return f"{claim.flavour.claim.kind} {claim.meta.namespace}/{claim.meta.name}"


async def release_claim(ctx: context.Context, claim: bodies.ClaimRecord) -> float | None:
    """Release a deleted claim (see the module docstring)."""

    where = _where(claim)
    if not claim.has_finalizer:
        ctx.registry.forget_claim(claim.meta.namespace, claim.key)
        return None
    if claim.meta.delete_for_move:
        logger.info("%s is deleted for a move: dropping our finalizer, releasing nothing.", where)
        await ctx.api.remove_finalizer(
            claim.flavour.claim, claim.body, claim.flavour.claim_finalizer
        )
        ctx.registry.forget_claim(claim.meta.namespace, claim.key)
        return None
    if claim.foreign_finalizers:
        await _wait_for_finalizers(ctx, claim)
        return None
    pool_state = (
        ctx.registry.find_pool(claim.meta.namespace, claim.pool_name) if claim.pool_name else None
    )
    pool = pool_state.record if pool_state is not None else None
    hold = await pause.claim_hold(ctx, claim, pool)
    if hold is not None:
        logger.info("%s is deleted, but %s: nothing is released yet.", where, hold.why)
        return None
    freed: list[bodies.AddressFact] = []
    if pool_state is not None:
        for fact in await _facts_to_release(ctx, claim, pool_state):
            if await delete_address(ctx, fact):
                freed.append(fact)
    await ctx.api.remove_finalizer(claim.flavour.claim, claim.body, claim.flavour.claim_finalizer)
    ctx.registry.forget_claim(claim.meta.namespace, claim.key)
    for fact in freed:
        ctx.metrics.releases.labels(claim.flavour.kind).inc()
        logger.info("%s: released %s (IPAddress %s deleted).", where, fact.address, fact.name)
        # Routine news, told on the pool: the claim is usually gone by now.
        ctx.tally_on_pool(pool, claim, "Released", fact.address)
    if freed and pool_state is not None:
        ctx.holdings_changed(pool_state)
        ctx.wake_waiting(pool_state)
    if not freed:
        logger.info("%s is deleted and held no address: finalizer removed.", where)
    return None


async def _wait_for_finalizers(ctx: context.Context, claim: bodies.ClaimRecord) -> None:
    """Say on the claim (``Deleting`` condition) and in an Event which finalizers hold it.

    They are another controller's to remove, never ours: a provider that put one on a claim
    it does not serve (the in-cluster provider does on every claim of a Cluster) leaves it
    there, and only a person can take it off. The message names each one exactly.
    """
    from ipam.handlers import claims  # the claim's own messages live there

    finalizers = claim.foreign_finalizers
    kept = f"its address {claim.recorded} is kept" if claim.recorded else "it is kept"
    which = "this finalizer is" if len(finalizers) == 1 else "these finalizers are"
    message = (
        f"Deleted, but {kept} until {which} removed by the controller that set it: "
        f"{', '.join(finalizers)}"
    )
    patch = statuses.claim_deleting(claim, resources.WAITING_FOR_FINALIZERS_REASON, message)
    if patch:
        written = await ctx.api.patch(
            claim.flavour.claim,
            claim.meta.namespace,
            claim.meta.name,
            {"status": patch},
            status=True,
        )
        if written is not None:
            version = bodies.meta_of(written).resource_version
            ctx.registry.wrote_claim(claim.meta.namespace, claim.key, version)
    claims.announce(ctx, claim, "Normal", resources.WAITING_FOR_FINALIZERS_REASON, message)


async def _facts_to_release(
    ctx: context.Context, claim: bodies.ClaimRecord, pool_state: state.PoolState
) -> list[bodies.AddressFact]:
    """Every object of the claim: known ones, and those only its own records name."""
    found = {fact.name: fact for fact in pool_state.facts_of(claim.key) if fact.ours}
    pool = pool_state.record
    candidates = [claim.address_name]
    if pool is not None and claim.recorded:
        candidates.append(names.address_object_name(pool.name_prefix, claim.recorded))
    for name in candidates:
        if not name or name in found:
            continue
        body = await ctx.api.get(claim.flavour.address, claim.meta.namespace, name)
        if body is None:
            continue
        fact = bodies.address_fact(bodies.address_record(claim.flavour, body))
        if fact.claim_name == claim.meta.name and fact.pool_name == claim.pool_name:
            found[name] = fact
    return list(found.values())


async def delete_address(ctx: context.Context, fact: bodies.AddressFact) -> bool:
    """Delete that very object (by uid) and take our finalizer off it; False if already gone."""
    flavour = resources.FLAVOURS[fact.kind]
    body = await ctx.api.delete(flavour.address, fact.namespace, fact.name, uid=fact.uid or None)
    if body is None:
        ctx.registry.forget_address(fact.kind, fact.namespace, fact.name, fact.uid)
        return False
    if flavour.address_finalizer in bodies.meta_of(body).finalizers:
        await ctx.api.remove_finalizer(flavour.address, body, flavour.address_finalizer)
    ctx.registry.forget_address(fact.kind, fact.namespace, fact.name, fact.uid)
    return True


async def give_back_extras(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    keep: bodies.AddressFact,
    extras: Iterable[bodies.AddressFact],
) -> None:
    """Delete the objects a claim holds beyond the one it keeps (see :mod:`ipam.core.keeper`)."""
    where = _where(claim)
    for fact in extras:
        await delete_address(ctx, fact)
        logger.warning(
            "%s held more than one IPAddress: keeping %s (IPAddress %s), released %s (IPAddress %s).",
            where,
            keep.address,
            keep.name,
            fact.address,
            fact.name,
        )
        ctx.event_on_claim(
            claim,
            "Warning",
            "ExtraAddressReleased",
            f"Address {fact.address} released (IPAddress {fact.name} deleted): the claim keeps "
            f"{keep.address} (IPAddress {keep.name})",
        )
    ctx.holdings_changed(pool_state)


async def release_orphan(
    ctx: context.Context, pool_state: state.PoolState, fact: bodies.AddressFact, *, why: str
) -> None:
    """Give back an IPAddress of ours whose claim does not exist."""
    if await delete_address(ctx, fact):
        ctx.metrics.releases.labels(fact.kind).inc()
        logger.warning(
            "IPAddress %s/%s (%s) of %s claim %s released: %s.",
            fact.namespace,
            fact.name,
            fact.address,
            fact.kind,
            fact.claim_name,
            why,
        )
        pool = pool_state.record
        if pool is not None:
            ctx.event_on_pool(
                pool,
                "Warning",
                "OrphanReleased",
                f"Address {fact.address} (IPAddress {fact.name}) released: {why}",
            )
    ctx.holdings_changed(pool_state)
    ctx.wake_waiting(pool_state)


async def let_go(ctx: context.Context, fact: bodies.AddressFact) -> None:
    """Drop our finalizer from an IPAddress being deleted, once nothing needs it any more.

    It is needed while its claim exists (the claim's release deletes it), unless clusterctl
    deletes it for a move.
    """
    flavour = resources.FLAVOURS[fact.kind]
    where = f"{flavour.address.kind} {fact.namespace}/{fact.name}"
    if not fact.delete_for_move:
        pool_state = ctx.registry.find_pool(fact.namespace, fact.pool_name)
        if (
            pool_state is not None
            and pool_state.record is not None
            and await pause.pool_hold(ctx, pool_state.record) is not None
        ):
            return
        claim = await ctx.api.get(flavour.claim, fact.namespace, fact.claim_name)
        if claim is not None and not bodies.meta_of(claim).deleting:
            logger.info(
                "%s is being deleted but its claim %s still exists: kept until the claim goes.",
                where,
                fact.claim_name,
            )
            return
    body = await ctx.api.get(flavour.address, fact.namespace, fact.name)
    if body is not None and bodies.meta_of(body).uid == fact.uid:
        await ctx.api.remove_finalizer(flavour.address, body, flavour.address_finalizer)
        logger.info("%s: finalizer removed (its claim is gone or it moves).", where)
