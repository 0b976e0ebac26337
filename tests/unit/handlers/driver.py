"""Run the controller's reconciles against the in-memory API, one key at a time, to idleness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ipam.handlers import addresses, claims, context, metrics, pools, state, watching, workqueue
from ipam.kube import address_lock, events, resources
from tests.unit.handlers.fakeapi import FakeApi, WatchEvent

FAST = context.Options(
    rebind_grace=0.0,
    orphan_grace=0.0,
    move_settle=0.0,
    status_delay=0.0,
    limits=workqueue.Limits(base=0.001, cap=0.001),
)
POOL = resources.IPPOOL
IPCLAIM = resources.IPCLAIM
CAPI_CLAIM = resources.CAPI_IPADDRESSCLAIM
M3_ADDRESS = resources.METAL3_IPADDRESS
CAPI_ADDRESS = resources.CAPI_IPADDRESS
LEASE = resources.LEASE
LOCK_NAMESPACE = "metal3-ipam-system"
Take = Callable[[], list[WatchEvent]]
"""Where a controller's watch events come from (default: all of the fake server's)."""


def controller(
    api: FakeApi,
    options: context.Options = FAST,
    *,
    locks: bool = False,
    identity: str = "test",
) -> context.Context:
    """A controller on ``api`` (call inside a running event loop: its Event poster starts).

    ``locks``: as without leader election, every IPAddress is made under its address Lease.
    """
    ctx = context.Context(
        api=api,
        registry=state.Registry(),
        recorder=events.Recorder(api, instance=identity),  # type: ignore[arg-type]
        metrics=metrics.Metrics(),
        options=options,
        locks=address_lock.Locks(api, LOCK_NAMESPACE, identity) if locks else None,
    )
    ctx.recorder.start()
    return ctx


class Feed:
    """One server's watch stream for several controllers: each takes its own copy of it."""

    def __init__(self, api: FakeApi, controllers: int) -> None:
        self.api = api
        self.backlogs: list[list[WatchEvent]] = [[] for _ in range(controllers)]

    def taker(self, index: int) -> Take:
        def take() -> list[WatchEvent]:
            fresh = self.api.take_events()
            for backlog in self.backlogs:
                backlog.extend(fresh)
            mine, self.backlogs[index] = self.backlogs[index], []
            return mine

        return take


async def deliver(ctx: context.Context, api: FakeApi, take: Take | None = None) -> int:
    """Feed every watch event so far to the handlers, as Kopf would; returns how many."""
    delivered = 0
    for event in (take or api.take_events)():
        delivered += 1
        resource, body = event.resource, event.body
        if resource in (resources.METAL3_IPADDRESS, resources.CAPI_IPADDRESS):
            flavour = next(f for f in resources.FLAVOURS.values() if f.address == resource)
            watching.on_address(ctx, flavour, event.type, body)
        elif resource in (resources.IPCLAIM, resources.CAPI_IPADDRESSCLAIM):
            flavour = next(f for f in resources.FLAVOURS.values() if f.claim == resource)
            watching.on_claim(ctx, flavour, event.type, body)
        elif resource == resources.IPPOOL:
            watching.on_pool(ctx, event.type, body)
        elif resource == resources.CLUSTER:
            await watching.on_cluster(ctx, event.type, body)
    return delivered


async def settle(
    ctx: context.Context, api: FakeApi, *, rounds: int = 200, take: Take | None = None
) -> None:
    """Deliver events and reconcile queued keys until nothing is left to do now."""
    plan: list[tuple[workqueue.WorkQueue[Any], Any]] = [
        (ctx.pools, pools.reconcile),
        (ctx.addresses, addresses.reconcile),
        (ctx.claims, claims.reconcile),
    ]
    for _ in range(rounds):
        busy = await deliver(ctx, api, take)
        for queue, reconcile in plan:
            while len(queue):
                busy += 1
                key = await queue.get()
                try:
                    again = await reconcile(ctx, key)
                    if again is not None and again <= 0:
                        queue.add(key)
                finally:
                    queue.done(key)
                await deliver(ctx, api, take)
        if not busy:
            await ctx.recorder.queue.join()
            return
    raise AssertionError("the controller never settled")


def pool_body(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "namePrefix": name,
            "pools": [{"start": "10.0.0.1", "end": "10.0.0.5"}],
            "prefix": 24,
            **spec,
        },
    }


def metal3_claim(name: str, pool: str = "p", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "metadata": {"name": name, "namespace": "ns", **metadata},
        "spec": {"pool": {"name": pool}},
    }


def capi_claim(name: str, pool: str = "p", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "metadata": {"name": name, "namespace": "ns", **metadata},
        "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool}},
    }


def metal3_address(
    name: str, address: str, claim: str, pool: str = "p", **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPAddress",
        "metadata": {"name": name, "namespace": "ns", **metadata},
        "spec": {
            "address": address,
            "pool": {"name": pool, "namespace": "ns"},
            "claim": {"name": claim, "namespace": "ns"},
            "prefix": 24,
        },
    }
