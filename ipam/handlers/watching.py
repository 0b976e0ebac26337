"""Watch events in, keys out: what each change of an object means for the ledger and the queues.

Kopf delivers the events (:mod:`ipam.handlers.operator`); these functions do no API call
except the List a Cluster change needs, and start no work themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ipam.handlers import addresses, context
from ipam.kube import bodies, client, resources

logger = logging.getLogger("ipam")


def on_address(
    ctx: context.Context, flavour: resources.Flavour, event: str | None, body: Mapping[str, Any]
) -> None:
    addresses.on_event(ctx, flavour, event, body)


def on_claim(
    ctx: context.Context, flavour: resources.Flavour, event: str | None, body: Mapping[str, Any]
) -> None:
    namespace, name = bodies.name_of(body)
    ref = context.ClaimRef(flavour.kind, namespace, name)
    if event == "DELETED":
        ctx.claim_deleted(ref)  # its addresses are checked, its state dropped
        return
    ctx.claim(ref, body)


def on_pool(ctx: context.Context, event: str | None, body: Mapping[str, Any]) -> None:
    if event == "DELETED":
        meta = bodies.meta_of(body)
        ctx.registry.forget_pool(meta.namespace, meta.name, meta.uid)
        ctx.metrics.forget_pool(meta.namespace, meta.name)
        ctx.pool((meta.namespace, meta.name))
        return
    pool_state = ctx.registry.observe_pool(bodies.pool_record(body))
    ctx.pool(pool_state.key)


async def on_cluster(ctx: context.Context, event: str | None, body: Mapping[str, Any]) -> None:
    record = bodies.cluster_record(body)
    if event == "DELETED":
        ctx.registry.forget_cluster(*record.meta.key)
    elif not ctx.registry.observe_cluster(record):
        return  # nothing that matters to us changed
    await wake_namespace(ctx, record.meta.namespace)


async def wake_namespace(ctx: context.Context, namespace: str) -> None:
    """A Cluster changed: every pool and claim of its namespace is looked at again."""
    for pool_state in ctx.registry.pools_in(namespace):
        ctx.pool(pool_state.key)
    for flavour in resources.FLAVOURS.values():
        try:
            listed = await ctx.api.list_objects(flavour.claim, namespace)
        except client.KubeError as err:
            if err.status != 404:
                logger.warning("Cannot list %s in %s: %s", flavour.claim, namespace, err)
            continue
        for body in listed:
            meta = bodies.meta_of(body)
            ctx.claim(context.ClaimRef(flavour.kind, meta.namespace, meta.name), body)
