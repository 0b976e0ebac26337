"""A pool's status and conditions, projected from what is known, written only when they differ.

Besides upstream's ``indexes``/``lastUpdated`` the status carries counters (``free`` is what
allocation can still hand out: the same view, overlapping pools and taken names included),
``outOfRange``, and the conditions of :mod:`ipam.core.conditions`; each conflict is also
announced once as an Event. The number of addresses held is also recorded in the pool's
metadata, which ``clusterctl move`` carries, so that the pool knows in its new cluster how
many IPAddress objects are still on their way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ipam.core import conditions, status, validation
from ipam.handlers import allocation, context, pause, state
from ipam.kube import bodies, resources, statuses

logger = logging.getLogger("ipam.pools")

HOLDINGS_PER_DELAY = 1000
"""Each thousand holdings add one ``status_delay`` to the wait between two status writes."""


def delay(ctx: context.Context, pool_state: state.PoolState) -> float:
    """Seconds between two status writes of this pool.

    A write carries ``indexes`` (one entry per holding, up to the limit) through the API
    server, etcd and every watcher: a 1,000-address pool is written about every 1 s during
    a burst instead of every 0.5 s. Past the limit the write is small again.
    """
    listed = len(pool_state.facts)
    if listed > ctx.options.indexes_limit:
        listed = 0
    return ctx.options.status_delay * (1 + listed / HOLDINGS_PER_DELAY)


async def write(ctx: context.Context, pool_state: state.PoolState) -> None:
    """Write the status (and the held count) the known objects imply, where they differ."""
    pool = pool_state.record
    if pool is None or await pause.pool_hold(ctx, pool) is not None:
        return
    # What claims hold is what carries our finalizer: an object made by hand that names a
    # claim but was not adopted (outside the pool, or not what the claim asks for) is
    # nobody's holding, so it is neither in ``indexes`` nor counted as out of range. One
    # being deleted is still its claim's until it is gone (another controller's finalizer
    # may keep it after ours came off), as upstream's indexes show it.
    held = [fact for fact in pool_state.facts.values() if fact.ours or fact.deleting]
    now = statuses.now()
    wanted = status.pool_status(
        pool.pool,
        pool_state.held_ledger(held),
        pool.status,
        now=now,
        creation=pool.meta.creation or now,
        deleting=pool.meta.deleting,
        indexes_limit=ctx.options.indexes_limit,
    )
    total, unavailable = status.usage(
        pool.pool, allocation.pool_view(ctx, pool_state), deleting=pool.meta.deleting
    )
    wanted["used"] = min(unavailable, status.INT64_MAX)
    wanted["free"] = min(max(0, total - unavailable), status.INT64_MAX)
    out_of_range = sorted(fact.address for fact in held if not pool.pool.contains(fact.address))
    wanted["outOfRange"] = len(out_of_range)
    awaiting = pool_state.awaiting()
    if not awaiting and not pool_state.settled:
        pool_state.settled = True
        ctx.wake_waiting(pool_state)  # claims that waited for the move's IPAddresses
    ctx.metrics.set_pool(
        pool.meta.namespace,
        pool.meta.name,
        total=wanted["total"],
        used=wanted["used"],
        free=wanted["free"],
    )
    found = conditions.pool_conditions(
        conditions.PoolFacts(
            name_prefix=pool.name_prefix,
            problems=validation.validate_pool(pool.spec),
            total=total,
            free=wanted["free"],
            awaiting=awaiting,
            clashes=[s.name for s in ctx.registry.name_clashing(pool_state)],
            overlaps=[s.name for s in ctx.registry.overlapping(pool_state)],
            duplicates=_duplicates(ctx.registry, pool_state),
            out_of_range=out_of_range,
        )
    )
    generation = pool.meta.generation
    written = [
        statuses.condition(c.type, c.status, c.reason, c.message, generation=generation, at=now)
        for c in found
    ]
    patch = statuses.pool_patch(pool.status, wanted, written, owned_conditions=conditions.OWNED)
    if patch:
        _announce(ctx, pool, written)
        body = await ctx.api.patch(
            resources.IPPOOL, pool.meta.namespace, pool.meta.name, {"status": patch}, status=True
        )
        if body is not None and pool_state.record is pool:
            ctx.registry.observe_pool(bodies.pool_record(body))
    await _record_held(ctx, pool_state, pool_state.observed_addresses())


async def _record_held(ctx: context.Context, pool_state: state.PoolState, held: int) -> None:
    """Keep the held count in the pool's metadata (once the pool settled, never before)."""
    pool = pool_state.record
    if pool is None or not pool_state.settled or pool.meta.deleting:
        return
    if pool.held_count == held and (pool.counted_here or not held):
        return
    annotations = {
        resources.HELD_COUNT_ANNOTATION: str(held) if held else None,
        resources.HELD_IN_ANNOTATION: pool.meta.uid if held else None,
    }
    if not held and not (set(annotations) & set(pool.meta.annotations)):
        return
    body = await ctx.api.patch(
        resources.IPPOOL,
        pool.meta.namespace,
        pool.meta.name,
        {"metadata": {"annotations": annotations}},
    )
    if body is not None and pool_state.record is pool:
        ctx.registry.observe_pool(bodies.pool_record(body))


def _duplicates(registry: state.Registry, pool_state: state.PoolState) -> list[str]:
    """Every address held twice, in words that do not depend on which holder was seen
    first: two instances that both see it then write one status, not two in turn."""
    found = [
        f"{first.address} held by {first.claim.kind} claim {first.claim.name} "
        f"and {other.claim.kind} claim {other.claim.name}"
        for pair in pool_state.book.conflicts()
        if all(holding.identity in pool_state.facts for holding in pair)
        for first, other in [sorted(pair, key=lambda h: (h.claim.kind, h.claim.name))]
    ]
    for other_state in registry.overlapping(pool_state):
        for fact in pool_state.facts.values():
            for holding in other_state.book.holders_of(fact.address):
                twin = other_state.facts.get(holding.identity)
                if twin is not None:
                    found.append(
                        f"{fact.address} held here by claim {fact.claim_name} and in pool "
                        f"{other_state.name} by claim {twin.claim_name}"
                    )
                    break
    return sorted(found)


def _announce(ctx: context.Context, pool: bodies.PoolRecord, written: list[dict[str, Any]]) -> None:
    """An Event for every conflict condition that was not already true, and for Ready=False."""
    before = {
        c.get("type"): c.get("status")
        for c in pool.status.get("conditions") or []
        if isinstance(c, Mapping)
    }
    for cond in written:
        if cond["type"] == conditions.READY or before.get(cond["type"]) == "True":
            continue
        logger.warning("IPPool %s/%s: %s", pool.meta.namespace, pool.meta.name, cond["message"])
        ctx.event_on_pool(pool, "Warning", cond["reason"], cond["message"])
    ready = next(c for c in written if c["type"] == conditions.READY)
    if ready["status"] == "False" and before.get(conditions.READY) != "False":
        ctx.event_on_pool(pool, "Warning", ready["reason"], ready["message"])
