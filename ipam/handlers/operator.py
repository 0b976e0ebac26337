"""Kopf wiring: which events reach which reconcile, and the settings that keep Kopf out of our way.

Only the low-level, level-based ``on.event`` hook is used, and handlers only put keys on
the work queues (:mod:`ipam.handlers.workqueue`). No on.create/on.update, no Kopf timers or
daemons (they would put Kopf's own finalizer on our objects), and no Kopf indexes: every
IPAddress, pool and Cluster is read once before Kopf starts
(:func:`ipam.handlers.resync.prime`), and the periodic full re-alignment is our own task
(:mod:`ipam.handlers.resync`). Kopf watches pools and Clusters; claims and IPAddresses, the
bulk of the events, come through plain watches (:mod:`ipam.kube.watch`) into the same
handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import kopf

from ipam.handlers import context, resync, watching
from ipam.kube import client, connection, resources, watch

logger = logging.getLogger("ipam")

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
    """Kopf's own storage under this project's prefix, no Kopf Events, no Kopf peering, no
    namespace scanning."""
    result = kopf.OperatorSettings()
    result.persistence.finalizer = f"{PREFIX}/kopf-finalizer"
    result.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    result.persistence.diffbase_storage = NoDiffBase()
    result.posting.enabled = False
    result.peering.standalone = True
    # --namespace takes exact names: Kopf need not list the cluster's namespaces to match
    # patterns, which the shipped RBAC does not allow (it would retry for a minute).
    result.scanning.disabled = True
    result.watching.server_timeout = 300
    result.watching.client_timeout = 330
    result.watching.connect_timeout = 30
    return result


def registry(ctx: context.Context, kubeconfig: str | None) -> kopf.OperatorRegistry:
    """Every handler of the controller, bound to ``ctx``, in a registry of its own.

    Handlers only feed the ledger and put keys on the queues; the workers do the rest.
    """
    reg = kopf.OperatorRegistry()
    add_login(reg, kubeconfig)
    _pool_handlers(reg, ctx)
    _cluster_handlers(reg, ctx)
    return reg


def add_login(reg: kopf.OperatorRegistry, kubeconfig: str | None) -> None:
    """Kopf logs in with the controller's own credentials, read afresh at every login."""

    @kopf.on.login(registry=reg)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        # Read afresh at every login: a rotated token or an exec plugin's new one is used
        # (Kopf logs in again after a 401 and refuses the same credentials twice).
        configuration = await connection.load_configuration(kubeconfig)
        credentials = await connection.credentials(configuration)
        return kopf.ConnectionInfo(
            server=credentials.server,
            ca_path=credentials.ca_path,
            insecure=credentials.insecure,
            scheme=credentials.scheme,
            token=credentials.token,
            certificate_path=credentials.certificate_path,
            private_key_path=credentials.private_key_path,
        )


def claim_watches(
    ctx: context.Context, api: client.Client, namespaces: Sequence[str], served: Iterable[str]
) -> tuple[list[asyncio.Task[None]], list[ClaimStream]]:
    """Claims of both kinds, watched without Kopf, as tasks, and their streams.

    They may start before :func:`ipam.handlers.resync.prime` has read the IPAddresses: a
    claim event only queues the claim, and nothing is reconciled before the workers start.
    Call :meth:`ClaimStream.primed` on each stream once the IPAddresses are read.
    """
    served = set(served)
    scopes: list[str | None] = list(namespaces) or [None]
    tasks = []
    streams = []
    for flavour in resources.FLAVOURS.values():
        for namespace in scopes:
            stream = ClaimStream(ctx, flavour, namespace)
            streams.append(stream)
            if str(flavour.claim) not in served:
                stream.listed()  # no such claims: each IPAddress of the kind is an orphan
                continue
            tasks.append(
                asyncio.create_task(
                    watch.run(api, flavour.claim, namespace, stream, listed=stream.listed),
                    name=f"watch-{flavour.claim.plural}-{flavour.kind}-{namespace or 'all'}",
                )
            )
    return tasks, streams


def address_watches(
    ctx: context.Context,
    api: client.Client,
    namespaces: Sequence[str],
    served: Iterable[str],
    since: resync.Versions,
) -> list[asyncio.Task[None]]:
    """IPAddresses of both kinds, watched without Kopf from where ``prime`` read them.

    Claims and IPAddresses are most of the watch events in a burst (each claim changes
    twice and makes an IPAddress), and Kopf's per-event processing (its causes, per-object
    loggers and memories, handler invocation) cost several times what the handlers
    themselves do: a plain watch hands the object to the same handlers in the same order.
    """
    served = set(served)
    scopes: list[str | None] = list(namespaces) or [None]
    tasks = []
    for flavour in resources.FLAVOURS.values():
        if str(flavour.address) not in served:
            continue
        handle = _address_handler(ctx, flavour)
        for namespace in scopes:
            tasks.append(
                asyncio.create_task(
                    watch.run(
                        api,
                        flavour.address,
                        namespace,
                        handle,
                        since=since.get((str(flavour.address), namespace)),
                    ),
                    name=f"watch-{flavour.address.plural}-{flavour.kind}-{namespace or 'all'}",
                )
            )
    return tasks


class ClaimStream:
    """One claim watch's events into the queues; after each of its Lists, once the
    IPAddresses are read too, the IPAddresses of ours whose claim was not listed are
    suspected orphans (the watches that follow report only what changes)."""

    def __init__(
        self, ctx: context.Context, flavour: resources.Flavour, namespace: str | None
    ) -> None:
        self.ctx = ctx
        self.flavour = flavour
        self.namespace = namespace
        self.present: set[resync.Present] = set()
        self.ready = False
        self.deferred: set[resync.Present] | None = None

    def __call__(self, type: str | None, body: dict[str, Any]) -> None:
        if type is None:
            meta = body.get("metadata") or {}
            self.present.add((str(meta.get("namespace")), self.flavour.kind, str(meta.get("name"))))
        watching.on_claim(self.ctx, self.flavour, type, body)

    def listed(self) -> None:
        present, self.present = self.present, set()
        logger.info(
            "Listed %d %s%s.",
            len(present),
            self.flavour.claim,
            f" in {self.namespace}" if self.namespace else "",
        )
        if not self.ready:
            self.deferred = present
            return
        resync.suspect_orphans(self.ctx, self.namespace, present, self.flavour.kind)

    def primed(self) -> None:
        self.ready = True
        if self.deferred is not None:
            present, self.deferred = self.deferred, None
            resync.suspect_orphans(self.ctx, self.namespace, present, self.flavour.kind)


def _address_handler(ctx: context.Context, flavour: resources.Flavour) -> watch.Handler:
    def handle(type: str | None, body: dict[str, Any]) -> None:
        watching.on_address(ctx, flavour, type, body)

    return handle


def _pool_handlers(reg: kopf.OperatorRegistry, ctx: context.Context) -> None:
    res = resources.IPPOOL

    @kopf.on.event(res.group, res.version, res.plural, registry=reg, id="pool")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        watching.on_pool(ctx, type, _raw(event))


def _cluster_handlers(reg: kopf.OperatorRegistry, ctx: context.Context) -> None:
    group, plural = resources.CLUSTER.group, resources.CLUSTER.plural

    @kopf.on.event(group=group, plural=plural, registry=reg, id="cluster")
    async def event(type: str | None, event: kopf.RawEvent, **_: Any) -> None:
        await watching.on_cluster(ctx, type, _raw(event))


def _raw(event: kopf.RawEvent) -> dict[str, Any]:
    """The object as the watch delivered it: a plain dict, read far faster than Kopf's view."""
    return dict(event["object"])
