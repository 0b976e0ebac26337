"""The safety net: read everything before serving, and every so often, List it all again.

Watches can miss things (a reconnect that skips a deletion, a write that failed and was
never retried). A pass re-aligns the ledgers with fresh Lists of both IPAddress kinds and
puts every pool, claim and suspected orphan on the queues once more; since reconciles
write only differences, a pass over a healthy cluster writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from ipam.handlers import addresses, context
from ipam.kube import bodies, client, resources

logger = logging.getLogger("ipam.resync")

Present = tuple[str, resources.ClaimKind, str]
"""A claim that exists: namespace, kind, name."""


async def prime(ctx: context.Context, namespaces: Sequence[str] | None) -> None:
    """Before any reconcile: every IPAddress of both kinds, every pool and every Cluster.

    The IPAddresses of ours whose claim does not exist are queued as suspected orphans.

    The first allocation then already sees every address that exists. (Kopf's indexes
    could hold handlers back the same way, but their start-up wait wakes every waiting
    handler for every listed object: quadratic, minutes for a few thousand objects.)
    """
    started = time.monotonic()
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    counts = {"addresses": 0, "pools": 0, "clusters": 0}
    for namespace in scopes:
        for flavour in resources.FLAVOURS.values():
            for body in await listed(ctx, flavour.address, namespace):
                ctx.registry.observe_address(
                    bodies.address_fact(bodies.address_record(flavour, body))
                )
                counts["addresses"] += 1
        for body in await listed(ctx, resources.IPPOOL, namespace):
            ctx.registry.observe_pool(bodies.pool_record(body))
            counts["pools"] += 1
        for body in await listed(ctx, resources.CLUSTER, namespace, missing_ok=(403, 404)):
            ctx.registry.observe_cluster(bodies.cluster_record(body))
            counts["clusters"] += 1
        # The watches that follow report only what changes in the ledger, so an address
        # whose claim is already gone would wait for the first periodic pass: look now.
        present: set[Present] = set()
        for flavour in resources.FLAVOURS.values():
            for body in await listed(ctx, flavour.claim, namespace):
                meta = bodies.meta_of(body)
                present.add((meta.namespace, flavour.kind, meta.name))
        suspect_orphans(ctx, namespace, present)
    logger.info(
        "Read %d IPAddresses, %d IPPools and %d Clusters in %.2fs before serving claims.",
        counts["addresses"],
        counts["pools"],
        counts["clusters"],
        time.monotonic() - started,
    )


async def listed(
    ctx: context.Context,
    resource: resources.Resource,
    namespace: str | None,
    *,
    missing_ok: tuple[int, ...] = (404,),
) -> list[client.Body]:
    """Every object of a type; none when the type is not installed (or not ours to read)."""
    try:
        return await ctx.api.list_objects(resource, namespace)
    except client.KubeError as err:
        if err.status in missing_ok:
            return []
        raise


async def forever(ctx: context.Context, namespaces: Sequence[str] | None) -> None:
    while True:
        await asyncio.sleep(ctx.options.resync_period)
        try:
            await once(ctx, namespaces)
        except client.KubeError as err:
            logger.warning("Periodic re-alignment interrupted: %s", err)


async def once(ctx: context.Context, namespaces: Sequence[str] | None) -> None:
    started = time.monotonic()
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    for namespace in scopes:
        await _namespace(ctx, namespace)
    logger.debug("Re-aligned with the cluster in %.2fs.", time.monotonic() - started)


async def _namespace(ctx: context.Context, namespace: str | None) -> None:
    for flavour in resources.FLAVOURS.values():
        listed_at = time.monotonic()
        try:
            items = await ctx.api.list_objects(flavour.address, namespace)
        except client.KubeError as err:
            if err.status == 404:
                continue  # this kind is not installed
            raise
        facts = [bodies.address_fact(bodies.address_record(flavour, body)) for body in items]
        for key in ctx.registry.replace_addresses(
            flavour.kind, namespace, facts, listed_at=listed_at
        ):
            ctx.pool(key)
        for body in items:
            record = bodies.address_record(flavour, body)
            if record.meta.deleting and record.has_finalizer:
                addresses.observe(ctx, flavour, body)
    pools = {
        bodies.meta_of(body).key: body
        for body in await ctx.api.list_objects(resources.IPPOOL, namespace)
    }
    for key, pool_state in list(ctx.registry.pools.items()):
        if pool_state.record is not None and key not in pools and namespace in (None, key[0]):
            ctx.registry.forget_pool(key[0], key[1], "")
    for body in pools.values():
        state = ctx.registry.observe_pool(bodies.pool_record(body))
        ctx.pool(state.key)
    present: set[Present] = set()
    for flavour in resources.FLAVOURS.values():
        for body in await listed(ctx, flavour.claim, namespace):
            meta = bodies.meta_of(body)
            present.add((meta.namespace, flavour.kind, meta.name))
            ctx.claim(context.ClaimRef(flavour.kind, meta.namespace, meta.name), body)
    suspect_orphans(ctx, namespace, present)


def suspect_orphans(ctx: context.Context, namespace: str | None, present: set[Present]) -> None:
    """Queue every IPAddress of ours whose claim is not among ``present`` (an orphan, or a
    claim created since the List: the address's reconcile looks again before its grace)."""
    for fact in list(ctx.registry.facts_in(namespace)):
        if fact.ours and (fact.namespace, fact.kind, fact.claim_name) not in present:
            ctx.address(context.AddressRef(fact.kind, fact.namespace, fact.name))
