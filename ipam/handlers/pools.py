"""One IPPool made true: finalizer, Cluster labels and ownerRef, status, and a deletion that waits.

A pool keeps the ``ippool.ipam.metal3.io`` finalizer while any IPAddress of either kind
names it. With ``spec.clusterName`` it is labelled for Cluster API and owned (not
controlled) by the Cluster, whose UID is refreshed when it changes (after a move). Waiting
claims are woken when the spec changes and when the pool is unpaused; after an unpause
every claim of the pool is looked at again, so statuses come back at once. Status writes
are spaced out: a lone change shows within the status delay, a burst of them is written
ever more rarely (up to one write every ten seconds) until it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ipam.handlers import context, pause, pool_status, state
from ipam.kube import bodies, client, resources

logger = logging.getLogger("ipam.pools")

METADATA_ATTEMPTS = 5
STATUS_PACE_CAP = 10.0
"""Seconds: the longest wait between two status writes of a pool during a burst."""
clock = time.monotonic


async def current(ctx: context.Context, pool_state: state.PoolState) -> bodies.PoolRecord | None:
    """The pool as last seen by the watch, else read once (the watch may lag behind)."""
    if pool_state.record is None:
        body = await ctx.api.get(resources.IPPOOL, pool_state.namespace, pool_state.name)
        if body is not None:
            ctx.registry.observe_pool(bodies.pool_record(body))
    return pool_state.record


async def reconcile(ctx: context.Context, key: context.PoolRef) -> float | None:
    pool_state = ctx.registry.find_pool(*key)
    if pool_state is None:
        return None
    pool = pool_state.record
    if pool is None:
        ctx.wake_waiting(pool_state)  # they now say the pool does not exist
        ctx.registry.drop_if_idle(pool_state)
        return None
    if pool.meta.deleting:
        await finalize(ctx, pool_state)
        return None
    hold = await pause.pool_hold(ctx, pool)
    if hold is not None and hold.waiting:
        await _ensure_metadata(ctx, pool)  # the labels (and finalizer) do not wait for it
    if hold is not None:
        if not pool_state.held:
            logger.info(
                "IPPool %s/%s left alone: %s.", pool.meta.namespace, pool.meta.name, hold.why
            )
        pool_state.held = True
        if hold.waiting:
            ctx.wake_waiting(pool_state)
        return None
    unpaused = pool_state.held
    pool_state.held = False
    await _ensure_metadata(ctx, pool)
    if unpaused:
        await _all_claims_again(ctx, pool_state)
    if unpaused or pool.meta.generation != pool_state.woken_generation:
        pool_state.woken_generation = pool.meta.generation
        ctx.wake_waiting(pool_state)
    now, base = clock(), pool_status.delay(ctx, pool_state)
    due = pool_state.status_written_at + max(pool_state.status_pace, base) - now
    if due > 0:
        return due
    pool_state.status_pace = next_pace(
        pool_state.status_pace, now - pool_state.status_written_at, base
    )
    pool_state.status_written_at = now
    await pool_status.write(ctx, pool_state)
    return None


def next_pace(pace: float, since_last: float, base: float) -> float:
    """The wait after this status write: doubled while writes follow one another (a burst of
    allocations costs a write every ``STATUS_PACE_CAP`` seconds, not one per ``base``), and
    ``base`` again after a quiet spell, so a lone change shows within ``base``."""
    if since_last > 2 * max(pace, base):
        return base
    return min(max(pace * 2, base), max(base, STATUS_PACE_CAP))


async def _all_claims_again(ctx: context.Context, pool_state: state.PoolState) -> None:
    """After an unpause: every claim of the pool is reconciled, not only the waiting ones."""
    from ipam.handlers import claims  # claims imports this module

    for flavour in resources.FLAVOURS.values():
        try:
            listed = await ctx.api.list_objects(flavour.claim, pool_state.namespace)
        except client.KubeError as err:
            if err.status == 404:
                continue
            raise
        for ref in claims.refs_naming(listed, flavour, pool_state.name):
            ctx.claim(ref)


def _owner_references(
    existing: Sequence[Mapping[str, Any]], cluster: bodies.ClusterRecord
) -> list[dict[str, Any]]:
    """``existing`` with exactly one reference to the Cluster, current UID and version."""
    wanted = bodies.owner_reference(
        cluster.api_version, resources.CLUSTER.kind, cluster.meta, controller=False
    )
    group = resources.CLUSTER_GROUP
    result: list[dict[str, Any]] = []
    placed = False
    for ref in existing:
        same = (
            ref.get("kind") == resources.CLUSTER.kind
            and str(ref.get("apiVersion", "")).split("/")[0] == group
            and ref.get("name") == cluster.meta.name
        )
        if not same:
            result.append(dict(ref))
        elif not placed:
            updated = dict(ref)
            updated.update(apiVersion=wanted["apiVersion"], uid=wanted["uid"])
            updated.setdefault("controller", False)
            result.append(updated)
            placed = True
    if not placed:
        result.append(wanted)
    return result


async def _ensure_metadata(ctx: context.Context, pool: bodies.PoolRecord) -> None:
    """Finalizer, labels and Cluster ownerRef, written in one versioned patch when needed."""
    body: Mapping[str, Any] | None = pool.body
    for _ in range(METADATA_ATTEMPTS):
        if body is None:
            return
        current_pool = bodies.pool_record(body)
        meta = current_pool.meta
        patch: dict[str, Any] = {}
        if resources.POOL_FINALIZER not in meta.finalizers:
            patch["finalizers"] = [*meta.finalizers, resources.POOL_FINALIZER]
        if current_pool.cluster_name:
            labels = {
                resources.CLUSTER_NAME_LABEL: current_pool.cluster_name,
                resources.PROVIDER_LABEL: resources.PROVIDER_NAME,
            }
            missing = {k: v for k, v in labels.items() if meta.labels.get(k) != v}
            if missing:
                patch["labels"] = missing
            cluster = await pause.cluster(ctx, meta.namespace, current_pool.cluster_name)
            if cluster is not None:
                owners = _owner_references(meta.owner_references, cluster)
                if owners != [dict(o) for o in meta.owner_references]:
                    patch["ownerReferences"] = owners
        if not patch:
            return
        patch["resourceVersion"] = meta.resource_version
        try:
            written = await ctx.api.patch(
                resources.IPPOOL, meta.namespace, meta.name, {"metadata": patch}
            )
        except client.Conflict:
            body = await ctx.api.get(resources.IPPOOL, meta.namespace, meta.name)
            continue
        if written is not None:
            ctx.registry.observe_pool(bodies.pool_record(written))
        return


async def finalize(ctx: context.Context, pool_state: state.PoolState) -> None:
    """A deleted pool lets go once no IPAddress of either kind names it any more."""
    pool = pool_state.record
    if pool is None or resources.POOL_FINALIZER not in pool.meta.finalizers:
        return
    where = f"IPPool {pool.meta.namespace}/{pool.meta.name}"
    if not pool.meta.delete_for_move:
        hold = await pause.pool_hold(ctx, pool)
        if hold is not None:
            logger.info("%s is deleted, but %s: waiting.", where, hold.why)
            return
        remaining = len(pool_state.facts) or await _count_live(ctx, pool)
        if remaining:
            logger.info(
                "%s is deleted; it waits for its %d IPAddress object(s) to go.", where, remaining
            )
            ctx.wake_waiting(pool_state)
            await pool_status.write(ctx, pool_state)
            return
    await ctx.api.remove_finalizer(resources.IPPOOL, pool.body, resources.POOL_FINALIZER)
    ctx.metrics.forget_pool(pool.meta.namespace, pool.meta.name)
    logger.info("%s: finalizer removed, the pool can go.", where)


async def _count_live(ctx: context.Context, pool: bodies.PoolRecord) -> int:
    """Addresses of the pool according to a fresh List (the last check before letting go)."""
    count = 0
    for flavour in resources.FLAVOURS.values():
        try:
            listed = await ctx.api.list_objects(flavour.address, pool.meta.namespace)
        except client.KubeError as err:
            if err.status == 404:
                continue
            raise
        for body in listed:
            if bodies.address_record(flavour, body).pool_name == pool.meta.name:
                count += 1
    return count
