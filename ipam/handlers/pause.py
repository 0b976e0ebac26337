"""Whether a pool or claim must be left alone now: paused, or waiting for its Cluster.

Paused means nothing is allocated, released or rewritten. It comes from the
``cluster.x-k8s.io/paused`` annotation on the pool or the claim, or from the Cluster named by
the pool's ``spec.clusterName`` (or by the claim's ``spec.clusterName`` / cluster-name label)
having ``spec.paused: true``. A pool whose Cluster does not exist yet waits for it, as
upstream does; a claim's own cluster reference never blocks it when the Cluster is absent.
"""

from __future__ import annotations

from ipam.handlers import context
from ipam.kube import bodies, client, resources


async def cluster(ctx: context.Context, namespace: str, name: str) -> bodies.ClusterRecord | None:
    """The Cluster from the watch cache, else read once (the watch may lag behind)."""
    found = ctx.registry.cluster(namespace, name)
    if found is not None:
        return found
    try:
        body = await ctx.api.get(resources.CLUSTER, namespace, name)
    except client.KubeError as err:
        if err.status in (403, 404):  # Cluster API not installed, or not ours to read
            return None
        raise
    if body is None:
        return None
    record = bodies.cluster_record(body)
    ctx.registry.observe_cluster(record)
    return record


async def pool_hold(ctx: context.Context, pool: bodies.PoolRecord) -> str | None:
    """Why the pool must not be acted on now (a sentence), or None."""
    if pool.meta.paused:
        return f"the pool carries the {resources.PAUSED_ANNOTATION} annotation"
    if pool.cluster_name:
        found = await cluster(ctx, pool.meta.namespace, pool.cluster_name)
        if found is None:
            if pool.meta.deleting:
                return None
            return f"its Cluster {pool.cluster_name} does not exist (yet)"
        if found.paused:
            return f"its Cluster {pool.cluster_name} is paused"
    return None


async def claim_hold(
    ctx: context.Context, claim: bodies.ClaimRecord, pool: bodies.PoolRecord | None
) -> str | None:
    """Why the claim must not be acted on now (a sentence), or None."""
    if claim.meta.paused:
        return f"the claim carries the {resources.PAUSED_ANNOTATION} annotation"
    if pool is not None:
        held = await pool_hold(ctx, pool)
        if held is not None:
            return f"pool {pool.meta.name}: {held}"
    if claim.cluster_name and (pool is None or claim.cluster_name != pool.cluster_name):
        found = await cluster(ctx, claim.meta.namespace, claim.cluster_name)
        if found is not None and found.paused:
            return f"its Cluster {claim.cluster_name} is paused"
    return None
