"""IPAddress events of both kinds: the ledger follows them, and a freed address wakes waiting claims.

Our finalizer protects an IPAddress while its claim lives (as upstream). It comes off an
IPAddress being deleted only when its claim is gone, when clusterctl deletes it for a
move, or as part of the claim's own release.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ipam.handlers import claims, context, pause, pool_status, pools, state
from ipam.kube import bodies, client, resources

logger = logging.getLogger("ipam.addresses")


def observe(ctx: context.Context, flavour: resources.Flavour, body: Mapping[str, Any]) -> None:
    """Feed one IPAddress into the ledger (called for every listed or changed object)."""
    record = bodies.address_record(flavour, body)
    changed = ctx.registry.observe_address(record)
    if changed is not None and changed.record is not None:
        pool_status.schedule(ctx, changed)
        if len(changed.records_of(record.claim)) > 1:  # its claim holds two: settle it now
            claims.retry_later(ctx, flavour, record.meta.namespace, record.claim_name, 0)


async def on_event(
    ctx: context.Context, flavour: resources.Flavour, event: str | None, body: Mapping[str, Any]
) -> None:
    record = bodies.address_record(flavour, body)
    if event == "DELETED":
        freed = ctx.registry.forget_address(
            flavour.kind, record.meta.namespace, record.meta.name, record.meta.uid
        )
        if freed is not None:
            if record.claim in freed.claims:
                freed.claims[record.claim] = True  # its claim lost its address: look again
            _freed(ctx, freed)
        return
    observe(ctx, flavour, body)
    if record.meta.deleting and record.has_finalizer and record.pool_name:
        try:
            await _let_go(ctx, record)
        except client.KubeError as err:
            logger.warning("IPAddress %s/%s: %s", record.meta.namespace, record.meta.name, err)


def _freed(ctx: context.Context, pool_state: state.PoolState) -> None:
    pool = pool_state.record
    if pool is None:
        return
    pool_status.schedule(ctx, pool_state)
    claims.retry_waiting(ctx, pool_state)
    if pool.meta.deleting and not pool_state.objects:
        ctx.spawn(pools.finalize(ctx, pool_state), name=f"finalize {pool_state.key}")


async def _let_go(ctx: context.Context, record: bodies.AddressRecord) -> None:
    """Drop our finalizer from an IPAddress being deleted, when nothing needs it any more."""
    flavour = record.flavour
    where = f"{flavour.address.kind} {record.meta.namespace}/{record.meta.name}"
    if not record.meta.delete_for_move:
        pool_state = ctx.registry.pool(record.meta.namespace, record.pool_name)
        if pool_state.record is not None:
            hold = await pause.pool_hold(ctx, pool_state.record)
            if hold is not None:
                return
        claim = await ctx.api.get(flavour.claim, record.meta.namespace, record.claim_name)
        if claim is not None:
            logger.info(
                "%s is being deleted but its claim %s still exists: kept until the claim goes.",
                where,
                record.claim_name,
            )
            return
    body = await ctx.api.get(flavour.address, record.meta.namespace, record.meta.name)
    if body is not None:
        await ctx.api.remove_finalizer(flavour.address, body, flavour.address_finalizer)
        logger.info("%s: finalizer removed (its claim is gone or it moves).", where)
