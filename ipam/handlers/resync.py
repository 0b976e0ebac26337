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
from collections.abc import Coroutine, Sequence
from typing import Any

from ipam.handlers import addresses, context, state
from ipam.kube import bodies, client, resources, watch

logger = logging.getLogger("ipam.resync")

Present = tuple[str, resources.ClaimKind, str]
"""A claim that exists: namespace, kind, name."""


Versions = dict[tuple[str, str | None], str]
"""Where each List of IPAddresses ended (by resource and namespace): its watch starts there."""


async def prime(ctx: context.Context, namespaces: Sequence[str] | None) -> Versions:
    """Before any reconcile: every IPAddress of both kinds, every pool and every Cluster.

    The first allocation then already sees every address that exists. The IPAddresses are
    read as a watch reads them, and the watches of IPAddresses start where these Lists
    ended (returned): they are not listed twice. The claims are not read here: their
    watches list them (each claim only queued, nothing reconciled before this ends), and
    the IPAddresses of ours whose claim was not among them are suspected orphans then
    (:func:`suspect_orphans`). (Kopf's indexes could hold handlers back the same way, but
    their start-up wait wakes every waiting handler for every listed object: quadratic,
    minutes for a few thousand objects.)
    """
    started = time.monotonic()
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    counts = {"addresses": 0, "pools": 0, "clusters": 0}
    versions: Versions = {}

    async def read_addresses(namespace: str | None, flavour: resources.Flavour) -> None:
        observe = _Primer(ctx, flavour)
        try:
            version = await watch.list_all(ctx.api, flavour.address, namespace, observe)
        except client.KubeError as err:
            if err.status == 404:
                return  # this kind is not installed
            raise
        versions[(str(flavour.address), namespace)] = version
        counts["addresses"] += observe.count

    async def read_pools(namespace: str | None) -> None:
        for body in await listed(ctx, resources.IPPOOL, namespace):
            ctx.registry.observe_pool(bodies.pool_record(body))
            counts["pools"] += 1

    async def read_clusters(namespace: str | None) -> None:
        for body in await listed(ctx, resources.CLUSTER, namespace, missing_ok=(403, 404)):
            ctx.registry.observe_cluster(bodies.cluster_record(body))
            counts["clusters"] += 1

    # All at once: the registry takes its objects in any order, and one List's wait for
    # the server then overlaps another's reading.
    reads: list[Coroutine[Any, Any, None]] = []
    for namespace in scopes:
        reads += [read_addresses(namespace, flavour) for flavour in resources.FLAVOURS.values()]
        reads += [read_pools(namespace), read_clusters(namespace)]
    await _all_or_none(reads)
    logger.info(
        "Read %d IPAddresses, %d IPPools and %d Clusters in %.2fs before serving claims.",
        counts["addresses"],
        counts["pools"],
        counts["clusters"],
        time.monotonic() - started,
    )
    return versions


async def _all_or_none(reads: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Await every read at once; when one fails (or this is cancelled), the others are
    cancelled and waited for, and its error is raised as it is."""
    tasks = [asyncio.ensure_future(read) for read in reads]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Primer:
    """Each listed IPAddress into the ledger; one of ours being deleted is queued too."""

    def __init__(self, ctx: context.Context, flavour: resources.Flavour) -> None:
        self.ctx = ctx
        self.flavour = flavour
        self.count = 0

    def __call__(self, event: str | None, body: dict[str, Any]) -> None:
        self.count += 1
        fact = bodies.address_fact(bodies.address_record(self.flavour, body))
        self.ctx.registry.observe_address(fact)
        if fact.deleting and fact.ours and fact.pool_name:
            self.ctx.address(context.AddressRef(fact.kind, fact.namespace, fact.name))


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
    # Each List is read page by page and only what is kept of a page outlives it: the
    # facts of the IPAddresses, the bodies of the claims until their reconciles take them.
    # Those reconciles are let drain before the next page, so a pass over tens of
    # thousands of claims never holds all their bodies at once.
    for flavour in resources.FLAVOURS.values():
        listed_at = time.monotonic()
        reader = _AddressReader(flavour, ctx.registry)
        try:
            await watch.list_all(ctx.api, flavour.address, namespace, reader)
        except client.KubeError as err:
            if err.status == 404:
                continue  # this kind is not installed
            raise
        for key in ctx.registry.replace_addresses(
            flavour.kind, namespace, reader.facts, listed_at=listed_at
        ):
            ctx.pool(key)
        for body in reader.releasing:
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
    backlog = len(ctx.mailbox)  # queued before this pass: a page need not wait for those
    for flavour in resources.FLAVOURS.values():

        def queue(
            _: str | None, body: dict[str, Any], kind: resources.ClaimKind = flavour.kind
        ) -> None:
            meta = bodies.meta_of(body)
            present.add((meta.namespace, kind, meta.name))
            ctx.claim(context.ClaimRef(kind, meta.namespace, meta.name), body)

        try:
            await watch.list_all(
                ctx.api,
                flavour.claim,
                namespace,
                queue,
                between_pages=lambda: _drained(ctx, backlog),
            )
        except client.KubeError as err:
            if err.status == 404:
                continue  # this kind is not installed
            raise
    suspect_orphans(ctx, namespace, present)


DRAINED = client.PAGE_SIZE
"""Claim bodies a pass may leave waiting for their reconciles when it reads its next page."""
DRAIN_WAIT = 30.0
"""Seconds a pass waits at most for them before it reads on anyway."""
DRAIN_POLL = 0.05


async def _drained(ctx: context.Context, backlog: int) -> None:
    """Wait (a while at most) until at most :data:`DRAINED` claim bodies more than
    ``backlog`` wait for their reconciles."""
    for _ in range(int(DRAIN_WAIT / DRAIN_POLL)):
        if len(ctx.mailbox) <= backlog + DRAINED:
            return
        await asyncio.sleep(DRAIN_POLL)


class _AddressReader:
    """Listed IPAddresses of one kind as facts; the bodies of those being released of ours.

    An IPAddress unchanged since it was last read (the same uid at the same resourceVersion)
    keeps the fact already known. Made again, every fact of a pool of 100,000 would be
    copied while the old ones still live, and the process would keep that high-water mark
    after each pass.
    """

    def __init__(self, flavour: resources.Flavour, registry: state.Registry) -> None:
        self.flavour = flavour
        self.registry = registry
        self.facts: list[bodies.AddressFact] = []
        self.releasing: list[dict[str, Any]] = []

    def __call__(self, event: str | None, body: dict[str, Any]) -> None:
        namespace, name, uid, version = bodies.version_of(body)
        known = self.registry.fact(self.flavour.kind, namespace, name)
        if known is not None and version and known.version == version and known.uid == uid:
            fact = known
        else:
            fact = bodies.address_fact(bodies.address_record(self.flavour, body))
        self.facts.append(fact)
        if fact.deleting and fact.ours:
            self.releasing.append(body)


def suspect_orphans(
    ctx: context.Context,
    namespace: str | None,
    present: set[Present],
    kind: resources.ClaimKind | None = None,
) -> None:
    """Queue every IPAddress of ours (of ``kind``, if given) whose claim is not among
    ``present`` (an orphan, or a claim created since the List: the address's reconcile
    looks again before its grace)."""
    for fact in list(ctx.registry.facts_in(namespace)):
        if kind is not None and fact.kind != kind:
            continue
        if fact.ours and (fact.namespace, fact.kind, fact.claim_name) not in present:
            ctx.address(context.AddressRef(fact.kind, fact.namespace, fact.name))
