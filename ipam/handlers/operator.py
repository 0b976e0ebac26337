"""Kopf wiring: which events reach which reconcile, and the settings that keep Kopf out of our way.

Only the low-level, level-based ``on.event`` hook is used. No on.create/on.update, no Kopf
timers or daemons (they would put Kopf's own finalizer on our objects), and no Kopf
indexes: every IPAddress, pool and Cluster is read once before Kopf starts
(:func:`ipam.handlers.resync.prime`), and the periodic full re-alignment is our own task
(:mod:`ipam.handlers.resync`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from ipam.handlers import addresses, claims, context, pool_status, pools
from ipam.kube import bodies, connection, resources

PREFIX = "capi-ipam.dev"


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff base at all: only on.event handlers are registered, and they need none.

    Kopf still builds one for every event it processes (a deep copy of the body, then a
    diff), which was a tenth of the controller's CPU in a burst of claims. Nothing is ever
    stored, so no annotation of ours is written to any object.
    """

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def settings() -> kopf.OperatorSettings:
    """Kopf's own storage under this project's prefix, no Kopf Events, no Kopf peering."""
    result = kopf.OperatorSettings()
    result.persistence.finalizer = f"{PREFIX}/kopf-finalizer"
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    result.persistence.diffbase_storage = NoDiffBase()
    result.posting.enabled = False
    result.peering.standalone = True
    result.watching.server_timeout = 300
    result.watching.client_timeout = 330
    result.watching.connect_timeout = 30
    return result


def registry(ctx: context.Context, credentials: connection.Credentials) -> kopf.OperatorRegistry:
    """Every handler of the controller, bound to ``ctx``, in a registry of its own."""
    reg = kopf.OperatorRegistry()

    @kopf.on.login(registry=reg)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=credentials.server,
            ca_path=credentials.ca_path,
            insecure=credentials.insecure,
            scheme=credentials.scheme,
            token=credentials.token,
            certificate_path=credentials.certificate_path,
            private_key_path=credentials.private_key_path,
        )

    for flavour in resources.FLAVOURS.values():
        _address_handlers(reg, ctx, flavour)
        _claim_handlers(reg, ctx, flavour)
    _pool_handlers(reg, ctx)
    _cluster_handlers(reg, ctx)
    return reg


def _address_handlers(
    reg: kopf.OperatorRegistry, ctx: context.Context, flavour: resources.Flavour
) -> None:
    res = flavour.address

    @kopf.on.event(res.group, res.version, res.plural, registry=reg, id=f"{flavour.kind}-address")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        await addresses.on_event(ctx, flavour, type, _raw(event))


def _claim_handlers(
    reg: kopf.OperatorRegistry, ctx: context.Context, flavour: resources.Flavour
) -> None:
    res = flavour.claim

    @kopf.on.event(res.group, res.version, res.plural, registry=reg, id=f"{flavour.kind}-claim")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        body = _raw(event)
        if type == "DELETED":
            record = bodies.claim_record(flavour, body)
            ctx.registry.forget_claim(record.meta.namespace, record.key)
            return
        await claims.reconcile(ctx, flavour, body)


def _pool_handlers(reg: kopf.OperatorRegistry, ctx: context.Context) -> None:
    res = resources.IPPOOL

    @kopf.on.event(res.group, res.version, res.plural, registry=reg, id="pool")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        body = _raw(event)
        if type == "DELETED":
            meta = bodies.meta_of(body)
            ctx.registry.forget_pool(meta.namespace, meta.name, meta.uid)
            ctx.metrics.forget_pool(meta.namespace, meta.name)
            return
        await pools.reconcile(ctx, body)


def _cluster_handlers(reg: kopf.OperatorRegistry, ctx: context.Context) -> None:
    group, plural = resources.CLUSTER.group, resources.CLUSTER.plural

    @kopf.on.event(group=group, plural=plural, registry=reg, id="cluster")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        record = bodies.cluster_record(_raw(event))
        if type == "DELETED":
            ctx.registry.forget_cluster(*record.meta.key)
        elif not ctx.registry.observe_cluster(record):
            return  # nothing that matters to us changed
        _wake_namespace(ctx, record.meta.namespace)


def _raw(event: kopf.RawEvent) -> dict[str, Any]:
    """The object as the watch delivered it: a plain dict, read far faster than Kopf's view."""
    return dict(event["object"])


def _wake_namespace(ctx: context.Context, namespace: str) -> None:
    """A Cluster changed: pools and claims of its namespace may be free to move again."""
    for pool_state in ctx.registry.pools_in(namespace):
        if pool_state.record is not None:
            ctx.spawn(_repool(ctx, pool_state.record.body), name=f"pool {pool_state.key}")
        pool_status.schedule(ctx, pool_state)
        claims.retry_waiting(ctx, pool_state)


async def _repool(ctx: context.Context, body: Mapping[str, Any]) -> None:
    await pools.reconcile(ctx, body)
