"""Whether a pool or claim must be left alone now: paused, or waiting for its Cluster.

Paused means nothing is allocated, released or rewritten. It comes from the
``cluster.x-k8s.io/paused`` annotation on the pool or the claim, or from the Cluster the
pool's ``spec.clusterName`` (or the claim's ``spec.clusterName`` / cluster-name label)
names being paused, by ``spec.paused`` or by that same annotation, as the Cluster API
contract says. A pool whose Cluster does not exist yet waits for it, as upstream does; a
Cluster API claim naming a Cluster that does not exist waits for it too (the contract),
and says so; a Metal3 claim's own cluster label never blocks it when the Cluster is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipam.handlers import context
from ipam.kube import bodies, resources

POOL_NOT_READY = resources.POOL_NOT_READY_REASON
WAITING_FOR_CLUSTER = "WaitingForCluster"


@dataclass(frozen=True)
class Hold:
    """Why an object is left alone.

    A pause writes nothing at all; a wait (``reason`` set) is said on the claim's status.
    """

    why: str
    reason: str = ""

    @property
    def waiting(self) -> bool:
        return bool(self.reason)


async def cluster(ctx: context.Context, namespace: str, name: str) -> bodies.ClusterRecord | None:
    """The Cluster as the watch shows it (a Cluster the watch has not shown yet is waited for:
    its arrival wakes the namespace)."""
    return ctx.registry.cluster(namespace, name)


async def pool_hold(ctx: context.Context, pool: bodies.PoolRecord) -> Hold | None:
    """Why the pool must not be acted on now, or None."""
    if pool.meta.paused:
        return Hold(f"the pool carries the {resources.PAUSED_ANNOTATION} annotation")
    if pool.cluster_name:
        found = await cluster(ctx, pool.meta.namespace, pool.cluster_name)
        if found is None:
            if pool.meta.deleting or not ctx.clusters_served:
                return None
            return Hold(f"its Cluster {pool.cluster_name} does not exist (yet)", POOL_NOT_READY)
        if found.paused:
            return Hold(f"its Cluster {pool.cluster_name} is paused")
    return None


async def claim_hold(
    ctx: context.Context, claim: bodies.ClaimRecord, pool: bodies.PoolRecord | None
) -> Hold | None:
    """Why the claim must not be acted on now, or None."""
    if claim.meta.paused:
        return Hold(f"the claim carries the {resources.PAUSED_ANNOTATION} annotation")
    if pool is not None:
        held = await pool_hold(ctx, pool)
        if held is not None:
            return Hold(f"pool {pool.meta.name}: {held.why}", held.reason)
    if claim.cluster_name and (pool is None or claim.cluster_name != pool.cluster_name):
        found = await cluster(ctx, claim.meta.namespace, claim.cluster_name)
        if found is not None and found.paused:
            return Hold(f"its Cluster {claim.cluster_name} is paused")
        if (
            found is None
            and claim.flavour.kind == "capi"
            and ctx.clusters_served
            and not claim.meta.deleting
        ):
            return Hold(
                f"its Cluster {claim.cluster_name} does not exist (yet)", WAITING_FOR_CLUSTER
            )
    return None
