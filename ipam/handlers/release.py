"""A deleted claim gives its address back: every IPAddress of it deleted, then our finalizer off.

The claim's addresses are found three ways, so that a claim deleted a moment after it was
created never leaks one (upstream #694): the ledger (which includes what this process
created and the watch has not shown yet), the name in the claim's status, and the names the
claim could only have been given (its pre-allocation, its requested IP). When none of them
finds anything, a List of the namespace is the last word.

Nothing is released while other finalizers remain on the claim (CAPM3 removes its own
first), while the claim or its pool is paused, or when clusterctl deletes the claim for a
move (``delete-for-move``): then only our finalizer is dropped.
"""

from __future__ import annotations

import logging

from ipam.core import errors, names
from ipam.handlers import context, pause, pool_status, state
from ipam.kube import bodies, client, resources

logger = logging.getLogger("ipam.release")


async def release_claim(ctx: context.Context, claim: bodies.ClaimRecord) -> state.PoolState | None:
    """Release a deleted claim; returns its pool when an address was freed."""
    kind = claim.flavour.claim.kind
    where = f"{kind} {claim.meta.namespace}/{claim.meta.name}"
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
        logger.info(
            "%s is deleted but still in use (finalizers %s): its address is kept for now.",
            where,
            ", ".join(claim.foreign_finalizers),
        )
        return None
    pool_state = (
        ctx.registry.pool(claim.meta.namespace, claim.pool_name) if claim.pool_name else None
    )
    pool = pool_state.record if pool_state is not None else None
    hold = await pause.claim_hold(ctx, claim, pool)
    if hold is not None:
        logger.info("%s is deleted, but %s: nothing is released yet.", where, hold)
        ctx.registry.note_claim(claim, waiting=True)
        return None
    freed: list[bodies.AddressRecord] = []
    if pool_state is not None:
        async with pool_state.lock:
            freed = await _delete_addresses(ctx, claim, pool_state)
    body = await ctx.api.remove_finalizer(
        claim.flavour.claim, claim.body, claim.flavour.claim_finalizer
    )
    ctx.registry.forget_claim(claim.meta.namespace, claim.key)
    if body is not None and bodies.meta_of(body).finalizers:  # still there: skip older events
        ctx.registry.wrote_claim(
            claim.meta.namespace, claim.key, bodies.meta_of(body).resource_version
        )
    if pool_state is not None:
        pool_state.first_unbound.pop(claim.key, None)
    for record in freed:
        ctx.metrics.releases.labels(claim.flavour.kind).inc()
        logger.info(
            "%s: released %s (IPAddress %s deleted).", where, record.address, record.meta.name
        )
        if body is not None:
            ctx.event_on_claim(
                claim,
                "Normal",
                "Released",
                f"Address {record.address} released (IPAddress {record.meta.name} deleted)",
            )
    return pool_state if freed else None


async def _delete_addresses(
    ctx: context.Context, claim: bodies.ClaimRecord, pool_state: state.PoolState
) -> list[bodies.AddressRecord]:
    found = {r.meta.name: r for r in pool_state.records_of(claim.key)}
    for name in _candidate_names(claim, pool_state):
        if name in found:
            continue
        try:
            body = await ctx.api.get(claim.flavour.address, claim.meta.namespace, name)
        except client.KubeError as err:
            _failed(ctx, claim, errors.GetFailed(), err)
            raise
        if body is not None:
            record = bodies.address_record(claim.flavour, body)
            if _belongs(record, claim):
                found[name] = record
    if not found:
        for body in await ctx.api.list_objects(claim.flavour.address, claim.meta.namespace):
            record = bodies.address_record(claim.flavour, body)
            if _belongs(record, claim):
                found[record.meta.name] = record
    freed = []
    for record in found.values():
        try:
            await _delete_one(ctx, claim.flavour, record)
        except client.KubeError as err:
            _failed(ctx, claim, errors.DeleteFailed(), err)
            raise
        ctx.registry.forget_address(
            claim.flavour.kind, record.meta.namespace, record.meta.name, record.meta.uid
        )
        freed.append(record)
    return freed


async def give_back_extras(
    ctx: context.Context,
    claim: bodies.ClaimRecord,
    pool_state: state.PoolState,
    keep: bodies.AddressRecord,
    extras: list[bodies.AddressRecord],
) -> None:
    """Delete the IPAddresses a claim holds beyond the one it keeps (see ``split_holdings``)."""
    kind = claim.flavour.claim.kind
    where = f"{kind} {claim.meta.namespace}/{claim.meta.name}"
    async with pool_state.lock:
        for record in extras:
            await _delete_one(ctx, record.flavour, record)
            ctx.registry.forget_address(
                record.flavour.kind, record.meta.namespace, record.meta.name, record.meta.uid
            )
            logger.warning(
                "%s held two addresses (two controllers served it at once): keeping %s, "
                "released %s (IPAddress %s deleted).",
                where,
                keep.address,
                record.address,
                record.meta.name,
            )
            ctx.event_on_claim(
                claim,
                "Warning",
                "ExtraAddressReleased",
                f"Address {record.address} released: the claim keeps {keep.address} "
                f"(IPAddress {keep.meta.name}); two controllers had served it at once",
            )
    pool_status.schedule(ctx, pool_state)


def _belongs(record: bodies.AddressRecord, claim: bodies.ClaimRecord) -> bool:
    return record.claim_name == claim.meta.name and record.pool_name == claim.pool_name


def _candidate_names(claim: bodies.ClaimRecord, pool_state: state.PoolState) -> list[str]:
    candidates = []
    if claim.address_name:
        candidates.append(claim.address_name)
    pool = pool_state.record
    if pool is not None:
        for address in (pool.pool.pre_allocations.get(claim.meta.name), claim.requested):
            if address:
                candidates.append(names.address_object_name(pool.pool.name_prefix, address))
    return candidates


async def _delete_one(
    ctx: context.Context, flavour: resources.Flavour, record: bodies.AddressRecord
) -> None:
    """Take our finalizer off the IPAddress, then delete that very object (by uid)."""
    body = await ctx.api.get(flavour.address, record.meta.namespace, record.meta.name)
    if body is None or bodies.meta_of(body).uid != record.meta.uid:
        return
    if flavour.address_finalizer in bodies.meta_of(body).finalizers:
        body = await ctx.api.remove_finalizer(flavour.address, body, flavour.address_finalizer)
        if body is None:
            return
    await ctx.api.delete(
        flavour.address, record.meta.namespace, record.meta.name, uid=record.meta.uid
    )


def _failed(
    ctx: context.Context, claim: bodies.ClaimRecord, error: errors.IPAMError, cause: Exception
) -> None:
    logger.warning(
        "%s %s/%s: %s: %s",
        claim.flavour.claim.kind,
        claim.meta.namespace,
        claim.meta.name,
        error.message,
        cause,
    )
    ctx.event_on_claim(claim, "Warning", "ReleaseFailed", f"{error.message}: {cause}")
