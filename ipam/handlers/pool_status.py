"""A pool's status, projected from its ledger and written only when it differs, at most so often.

Besides upstream's ``indexes``/``lastUpdated`` and the counters, the status carries
conditions: ``Ready`` (the spec is usable and addresses are left), and, only while true,
``PrefixCollision`` (another pool of the namespace can produce the same IPAddress names),
``Overlap`` (another pool produces some of the same addresses) and ``DuplicateAddress``
(one address held by two claims). Each conflict is also announced once as an Event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from ipam.core import names, status, validation
from ipam.handlers import context, pause, state
from ipam.kube import bodies, client, resources, statuses

logger = logging.getLogger("ipam.pools")

READY = "Ready"
PREFIX_COLLISION = "PrefixCollision"
OVERLAP = "Overlap"
DUPLICATE = "DuplicateAddress"
OWNED = (READY, PREFIX_COLLISION, OVERLAP, DUPLICATE)
LISTED = 5
HOLDINGS_PER_DELAY = 1000
"""Each thousand holdings add one ``status_delay`` to the wait before a status write."""


def schedule(ctx: context.Context, pool_state: state.PoolState) -> None:
    """Write the pool's status soon; changes arriving meanwhile share the write.

    One writer per pool: changes that arrive while a write is in flight are written by
    the same writer right after it. The wait before a write grows with the pool's
    holdings, since every status write carries ``indexes`` (one entry per holding) through
    the API server, etcd and every watcher: a 10,000-address pool is written about every
    5.5 s during a burst instead of every 0.5 s.
    """
    pool_state.status_dirty = True
    if pool_state.status_task is not None and not pool_state.status_task.done():
        return

    async def writer() -> None:
        while pool_state.status_dirty:
            await asyncio.sleep(delay(ctx, pool_state))
            pool_state.status_dirty = False
            try:
                await flush(ctx, pool_state)
            except client.KubeError as err:
                ctx.metrics.api_errors.labels(resources.IPPOOL.plural).inc()
                logger.warning("IPPool %s/%s: status not written: %s", *pool_state.key, err)

    pool_state.status_task = ctx.spawn(writer(), name=f"status of {pool_state.key}")


def delay(ctx: context.Context, pool_state: state.PoolState) -> float:
    """Seconds to gather changes before the next status write of this pool."""
    return ctx.options.status_delay * (1 + len(pool_state.book) / HOLDINGS_PER_DELAY)


async def flush(ctx: context.Context, pool_state: state.PoolState) -> None:
    """Write the status the ledger implies, if it differs from the pool's."""
    pool = pool_state.record
    if pool is None:
        return
    if await pause.pool_hold(ctx, pool) is not None:
        return
    now = statuses.now()
    wanted = status.pool_status(
        pool.pool,
        pool_state.book,
        pool.status,
        now=now,
        creation=pool.meta.creation or now,
        deleting=pool.meta.deleting,
    )
    ctx.metrics.set_pool(
        pool.meta.namespace,
        pool.meta.name,
        total=wanted["total"],
        used=wanted["used"],
        free=wanted["free"],
    )
    conditions = conditions_of(ctx.registry, pool_state, pool, wanted, now)
    patch = statuses.pool_patch(pool.status, wanted, conditions, owned_conditions=OWNED)
    if not patch:
        return
    _announce(ctx, pool, conditions)
    body = await ctx.api.patch(
        resources.IPPOOL, pool.meta.namespace, pool.meta.name, {"status": patch}, status=True
    )
    if body is not None and pool_state.record is pool:
        ctx.registry.observe_pool(bodies.pool_record(body))


def conditions_of(
    registry: state.Registry,
    pool_state: state.PoolState,
    pool: bodies.PoolRecord,
    wanted: Mapping[str, Any],
    now: str,
) -> list[dict[str, Any]]:
    generation = pool.meta.generation

    def make(type_: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
        return statuses.condition(type_, ok, reason, message, generation=generation, at=now)

    result = []
    problems = validation.validate_pool(pool.spec)
    if problems:
        text = "; ".join(f"{p.path}: {p.message}" for p in problems[:LISTED])
        result.append(make(READY, False, "InvalidSpec", text))
    elif pool.pool.total == 0:
        result.append(make(READY, False, "NoAddresses", "No pool entry produces any address"))
    elif wanted["free"] == 0:
        result.append(make(READY, False, "PoolExhausted", "Every address is held or pre-allocated"))
    else:
        result.append(make(READY, True, "Available", "Addresses can be handed out"))
    others = {s.name: s.record.pool for s in registry.pools_in(pool.meta.namespace) if s.record}
    others[pool.meta.name] = pool.pool
    clashes = _partners(names.prefix_collisions(others), pool.meta.name)
    if clashes:
        result.append(
            make(
                PREFIX_COLLISION,
                True,
                "NamePrefixCollision",
                f"namePrefix {pool.name_prefix!r} can produce the same IPAddress names as pool(s) "
                f"{', '.join(clashes)}; a name taken by the other pool is skipped",
            )
        )
    overlaps = _partners(names.overlapping_pools(others), pool.meta.name)
    if overlaps:
        result.append(
            make(
                OVERLAP,
                True,
                "OverlappingPools",
                f"Ranges overlap pool(s) {', '.join(overlaps)}; an address held there is not handed out here",
            )
        )
    duplicates = _duplicates(registry, pool_state)
    if duplicates:
        result.append(make(DUPLICATE, True, "DuplicateAddress", "; ".join(duplicates[:LISTED])))
    return result


def _partners(pairs: list[tuple[str, str]], name: str) -> list[str]:
    return sorted({b if a == name else a for a, b in pairs if name in (a, b)})


def _duplicates(registry: state.Registry, pool_state: state.PoolState) -> list[str]:
    found = [
        f"{first.address} held by {first.claim.kind} claim {first.claim.name} "
        f"and {other.claim.kind} claim {other.claim.name}"
        for first, other in pool_state.book.conflicts()
    ]
    for other_state in registry.overlapping(pool_state):
        for holding in pool_state.book.holdings():
            twin = other_state.book.holder_of(holding.address)
            if twin is not None:
                found.append(
                    f"{holding.address} held here by claim {holding.claim.name} and in pool "
                    f"{other_state.name} by claim {twin.claim.name}"
                )
    return sorted(found)


def _announce(
    ctx: context.Context, pool: bodies.PoolRecord, conditions: list[dict[str, Any]]
) -> None:
    """An Event for every conflict condition that was not already true."""
    before = {
        c.get("type"): c.get("status")
        for c in pool.status.get("conditions") or []
        if isinstance(c, Mapping)
    }
    for cond in conditions:
        if cond["type"] == READY or before.get(cond["type"]) == "True":
            continue
        logger.warning("IPPool %s/%s: %s", pool.meta.namespace, pool.meta.name, cond["message"])
        ctx.event_on_pool(pool, "Warning", cond["reason"], cond["message"])
    ready = next(c for c in conditions if c["type"] == READY)
    if ready["status"] == "False" and before.get(READY) != "False":
        ctx.event_on_pool(pool, "Warning", ready["reason"], ready["message"])
