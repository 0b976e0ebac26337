"""The controller process from start to exit: check, serve probes, lead, operate, let go.

With leader election (the default) the election runs in a thread of its own
(:class:`ipam.kube.leader.Campaign`). While this instance leads, it operates: it reads
everything, starts the watches, the workers and the periodic re-alignment. When it loses
the Lease (an API outage, a starved machine), every write is refused at once, all work
stops, the in-memory state is dropped, and the instance stands by to win the Lease back:
it never exits for that.

Exit codes: 0 after SIGTERM/SIGINT (the Lease is handed over at once); 2 when the API
server cannot be reached at start or the kubeconfig is unusable; 3 when the CRDs are
missing, the permissions do not allow what the controller needs, or the installed Kopf's
internals are not those :mod:`ipam.handlers.memories` replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

import kopf

from ipam.handlers import (
    admission,
    context,
    memories,
    metrics,
    operator,
    resync,
    scheduler,
    serving,
    state,
    webhook_server,
)
from ipam.kube import address_lock, client, connection, events, heap, leader, resources

logger = logging.getLogger("ipam")

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_MISCONFIGURED = 0, 1, 2, 3
RETRY_PAUSE = 5.0
"""Seconds before operating again after the watches failed or the first reads did."""

REQUIRED = (resources.IPPOOL, resources.IPCLAIM, resources.METAL3_IPADDRESS)
OPTIONAL = (resources.CAPI_IPADDRESSCLAIM, resources.CAPI_IPADDRESS, resources.CLUSTER)


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    """Namespaces to serve; empty means all of them."""
    kubeconfig: str | None = None
    leader_election: bool = True
    leader_election_namespace: str = "metal3-ipam-system"
    lease_name: str = leader.LEASE_NAME
    lease: leader.Timing = field(default_factory=leader.Timing)
    host: str = "0.0.0.0"
    health_port: int = 8080
    metrics_port: int = 8443
    tuning: context.Options = field(default_factory=context.Options)
    webhook: admission.Options = field(default_factory=admission.Options)


class Misconfigured(Exception):
    """The cluster lacks something the controller cannot do without (a message for the user)."""


async def preflight(api: client.Client, namespaces: Sequence[str]) -> set[resources.Resource]:
    """Prove the API server answers, our CRDs are served and we may read them.

    Returns the optional types that are not served (their objects are ignored).
    """
    version = await api.version()
    logger.info("API server %s answers (Kubernetes %s).", api.server, version or "?")
    missing: set[resources.Resource] = set()
    for resource in (*REQUIRED, *OPTIONAL):
        try:
            served = (
                await api.served(resource)
                if not namespaces
                else await _served_in(api, resource, namespaces)
            )
        except client.KubeError as err:
            if err.status == 403:
                raise Misconfigured(
                    f"not allowed to list {resource}: {err}. Apply config/rbac and run as its "
                    "ServiceAccount."
                ) from err
            raise
        if not served and resource in REQUIRED:
            raise Misconfigured(
                f"the API server does not serve {resource} ({resource.api_version}): "
                "install the CRDs first (kubectl apply -k crds)."
            )
        if not served:
            missing.add(resource)
            logger.warning(
                "%s (%s) is not served: those objects are ignored.", resource, resource.api_version
            )
    return missing


async def _served_in(
    api: client.Client, resource: resources.Resource, namespaces: Sequence[str]
) -> bool:
    try:
        await api.list_objects(resource, namespaces[0])
    except client.KubeError as err:
        if err.status == 404:
            return False
        raise
    return True


async def run(options: RunOptions) -> int:
    try:
        await memories.check()
    except memories.KopfChanged as err:
        logger.error("Cannot start: %s", err)
        return EXIT_MISCONFIGURED
    try:
        api = await client.Client.connect(options.kubeconfig)
    except connection.ConfigurationError as err:
        logger.error("Cannot configure the Kubernetes client: %s", err)
        return EXIT_UNREACHABLE
    try:
        return await _run(api, options)
    finally:
        await api.close()


async def _run(api: client.Client, options: RunOptions) -> int:
    try:
        missing = await preflight(api, options.namespaces)
    except client.Unreachable as err:
        logger.error("Cannot reach the API server: %s", err)
        return EXIT_UNREACHABLE
    except (Misconfigured, client.KubeError) as err:
        logger.error("Cannot start: %s", err)
        return EXIT_MISCONFIGURED
    ready = asyncio.Event()
    registry_metrics = metrics.Metrics()
    webhook = _Webhook(options)
    try:
        webhook.prepare()
    except webhook_server.CertificateError as err:
        logger.error("Cannot serve the webhook: %s", err)
        return EXIT_MISCONFIGURED
    try:
        servers = await serving.start(
            host=options.host,
            health_port=options.health_port,
            metrics_port=options.metrics_port,
            ready=ready.is_set,
            healthy=webhook.healthy,
            registry=registry_metrics,
        )
    except OSError as err:
        logger.error("Cannot open the health/metrics ports: %s", err)
        return EXIT_MISCONFIGURED
    give_back = asyncio.create_task(heap.give_back_forever(), name="heap")
    try:
        return await _lead(api, options, missing, registry_metrics, ready, webhook)
    finally:
        give_back.cancel()
        await asyncio.gather(give_back, return_exceptions=True)
        await servers.stop()


@dataclass
class _Webhook:
    """The admission webhook, served by every instance from start to exit (when enabled)."""

    options: RunOptions
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    server: webhook_server.Server | None = None
    task: asyncio.Task[None] | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def prepare(self) -> None:
        if self.options.webhook.enabled:
            self.server = admission.server(self.options.webhook, self.listening)

    def healthy(self) -> bool:
        """A webhook that does not listen makes the instance unhealthy (it is restarted)."""
        return self.server is None or self.listening.is_set()

    def start(self, api: client.Client, stop: asyncio.Event) -> None:
        if self.server is not None:
            self.task = asyncio.create_task(self._serve(api, self.server, stop), name="webhook")

    async def _serve(
        self, api: client.Client, server: webhook_server.Server, stop: asyncio.Event
    ) -> None:
        options = self.options.webhook
        while not self.stopping.is_set():
            kopf_ready = asyncio.Event()
            retake = asyncio.create_task(_retake_signals(kopf_ready, stop))
            try:
                await admission.serve(
                    api,
                    server,
                    kubeconfig=self.options.kubeconfig,
                    flavours=tuple(resources.FLAVOURS.values()),
                    budget=options.budget,
                    stop=self.stopping,
                    ready=kopf_ready,
                )
            except Exception:
                logger.exception("The webhook server failed.")
            finally:
                retake.cancel()
            if not self.stopping.is_set():
                logger.error("The webhook stopped; serving it again in %.0fs.", RETRY_PAUSE)
                await _first(asyncio.sleep(RETRY_PAUSE), self.stopping.wait())
        _on_signals(stop)

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stopping.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.task, timeout=10)


async def _retake_signals(kopf_ready: asyncio.Event, stop: asyncio.Event) -> None:
    await kopf_ready.wait()
    _on_signals(stop)  # Kopf took SIGINT/SIGTERM over when it started: the stop is ours


@dataclass
class _Leadership:
    """What the election thread tells the event loop, and the write gate it keeps."""

    loop: asyncio.AbstractEventLoop
    won: asyncio.Event = field(default_factory=asyncio.Event)
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    why: str = ""
    leading: threading.Event = field(default_factory=threading.Event)

    def tell(self, won: bool, why: str) -> None:
        """Called in the election thread: the gate first, then the event loop."""
        if won:
            self.leading.set()
        else:
            self.leading.clear()
        self.loop.call_soon_threadsafe(self._told, won, why)

    def _told(self, won: bool, why: str) -> None:
        if won:
            self.lost.clear()
            self.won.set()
        else:
            self.why = why
            self.won.clear()
            self.lost.set()


async def _lead(
    api: client.Client,
    options: RunOptions,
    missing: set[resources.Resource],
    registry_metrics: metrics.Metrics,
    ready: asyncio.Event,
    webhook: _Webhook,
) -> int:
    stop = asyncio.Event()
    _on_signals(stop)
    webhook.start(api, stop)
    leadership = _Leadership(asyncio.get_running_loop())
    campaign: leader.Campaign | None = None
    identity = leader.default_identity()
    if options.leader_election:
        campaign = leader.Campaign(
            options.kubeconfig,
            namespace=options.leader_election_namespace,
            name=options.lease_name,
            identity=identity,
            timing=options.lease,
        )
        api.may_write = leadership.leading.is_set
        campaign.start(leadership.tell)
    else:
        logger.info("Leader election is disabled: this instance acts at once.")
        leadership.leading.set()
        leadership.won.set()
    try:
        while not stop.is_set():
            ready.set()  # standing by, or about to operate: healthy either way
            if not await _first(leadership.won.wait(), stop.wait()):
                break
            ready.clear()
            code = await _operate(
                api, options, missing, registry_metrics, identity, stop, leadership, ready
            )
            if code is not None:
                return code
            if stop.is_set():
                break
            logger.error(
                "Leadership lost (%s): stopped acting; standing by to win it back.", leadership.why
            )
    finally:
        ready.clear()
        if campaign is not None:
            await asyncio.to_thread(campaign.stop)
        await webhook.stop()
    return EXIT_OK


async def _first(wanted: Awaitable[object], stopping: Awaitable[object]) -> bool:
    """Wait for ``wanted`` or ``stopping``, whichever ends first; True when ``wanted`` did."""
    want = asyncio.ensure_future(wanted)
    stop = asyncio.ensure_future(stopping)
    done, pending = await asyncio.wait({want, stop}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return want in done


async def _operate(
    api: client.Client,
    options: RunOptions,
    missing: set[resources.Resource],
    registry_metrics: metrics.Metrics,
    identity: str,
    stop: asyncio.Event,
    leadership: _Leadership,
    ready: asyncio.Event,
) -> int | None:
    """Operate while leading; None when it stopped (signal, lost Lease), else an exit code."""
    ctx = context.Context(
        api=api,
        registry=state.Registry(),
        recorder=events.Recorder(api, instance=identity),
        metrics=registry_metrics,
        options=options.tuning,
        clusters_served=resources.CLUSTER not in missing,
        locks=_address_locks(api, options, missing, identity),
    )
    namespaces = list(options.namespaces)
    served = [
        str(r)
        for f in resources.FLAVOURS.values()
        for r in (f.address, f.claim)
        if r not in missing
    ]
    # The claims are listed while the IPAddresses are read: a claim is only queued until
    # the workers start, and they start once every IPAddress is in the ledger.
    claim_watches, streams = operator.claim_watches(ctx, api, namespaces, served)
    try:
        versions = await resync.prime(ctx, namespaces or None)
    except client.KubeError as failure:
        logger.error("Cannot read what exists before serving claims: %s; trying again.", failure)
        await _cancel(claim_watches)
        await _first(asyncio.sleep(RETRY_PAUSE), stop.wait())
        return None
    except BaseException:
        await _cancel(claim_watches)
        raise
    for stream in streams:
        stream.primed()
    ctx.recorder.start()
    kopf_ready = asyncio.Event()
    kopf_stop = asyncio.Event()
    workers = scheduler.start(ctx) + claim_watches
    workers += operator.address_watches(ctx, api, namespaces, served, versions)
    tasks: dict[str, asyncio.Task[None]] = {
        "operator": asyncio.create_task(
            kopf.operator(
                registry=operator.registry(ctx, options.kubeconfig),
                settings=operator.settings(),
                memories=memories.NoMemories(),
                standalone=True,
                clusterwide=not namespaces,
                namespaces=namespaces,
                stop_flag=kopf_stop,
                ready_flag=kopf_ready,
            ),
            name="kopf",
        ),
        "resync": asyncio.create_task(resync.forever(ctx, namespaces or None), name="resync"),
        "stop": asyncio.create_task(_wait(stop), name="signal"),
        "lost": asyncio.create_task(_wait(leadership.lost), name="lost"),
        "ready": asyncio.create_task(_mark_ready(kopf_ready, ready, stop), name="ready"),
    }
    scope = ", ".join(namespaces) if namespaces else "all namespaces"
    logger.info("Controller running for %s.", scope)
    try:
        while True:
            done, _ = await asyncio.wait(
                [t for k, t in tasks.items() if k != "ready"], return_when=asyncio.FIRST_COMPLETED
            )
            finished = done.pop()
            if finished is tasks["operator"]:
                logger.error(
                    "The watches stopped (%s); starting them again in %.0fs.",
                    finished.exception() or "no error",
                    RETRY_PAUSE,
                )
                await _first(asyncio.sleep(RETRY_PAUSE), stop.wait())
                return None
            if finished is tasks["resync"]:
                logger.error(
                    "The re-alignment task failed; restarting it.", exc_info=finished.exception()
                )
                tasks["resync"] = asyncio.create_task(
                    resync.forever(ctx, namespaces or None), name="resync"
                )
                continue
            return None
    finally:
        ready.clear()
        kopf_stop.set()
        ctx.shutdown()
        operator_task = tasks.pop("operator")
        for task in [*tasks.values(), *workers]:
            task.cancel()
        await asyncio.gather(*tasks.values(), *workers, return_exceptions=True)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(operator_task, timeout=10)
        await ctx.recorder.stop()
        _on_signals(stop)  # take the signals back from the stopped watches


def _address_locks(
    api: client.Client, options: RunOptions, missing: set[resources.Resource], identity: str
) -> address_lock.Locks | None:
    """Address Leases when other instances may act at once and both IPAddress kinds exist."""
    if options.leader_election:
        return None  # one leader: the pool's in-process lock covers both kinds
    if resources.CAPI_IPADDRESS in missing:
        return None  # one IPAddress kind: its object name is the lock
    logger.info(
        "Without leader election other instances may act at once: every new address is made "
        "under its Lease in %s (ipam-address.<namespace>.<pool>.<address>).",
        options.leader_election_namespace,
    )
    return address_lock.Locks(api, options.leader_election_namespace, identity)


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def _mark_ready(kopf_ready: asyncio.Event, ready: asyncio.Event, stop: asyncio.Event) -> None:
    await kopf_ready.wait()
    _on_signals(stop)  # Kopf took SIGINT/SIGTERM over when it started: the stop is ours to run
    ready.set()


def _on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (where the platform lets us handle signals)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
