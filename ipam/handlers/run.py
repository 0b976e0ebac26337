"""The controller process from start to exit: check, serve probes, lead, operate, let go.

Exit codes: 0 after a signal; 1 when leadership is lost (restart clean); 2 when the API
server cannot be reached or the kubeconfig is unusable; 3 when the CRDs are missing or
the permissions do not allow what the controller needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

import kopf

from ipam.handlers import context, metrics, operator, resync, serving, state
from ipam.kube import client, connection, events, leader, resources

logger = logging.getLogger("ipam")

EXIT_OK, EXIT_LOST, EXIT_UNREACHABLE, EXIT_MISCONFIGURED = 0, 1, 2, 3

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


class Misconfigured(Exception):
    """The cluster lacks something the controller cannot do without (a message for the user)."""


async def preflight(api: client.Client, namespaces: Sequence[str]) -> None:
    """Prove the API server answers, our CRDs are served and we may read them."""
    version = await api.version()
    logger.info("API server %s answers (Kubernetes %s).", api.server, version or "?")
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
                "install the CRDs first (kubectl apply -f crds/)."
            )
        if not served:
            logger.warning(
                "%s (%s) is not served: those objects are ignored.", resource, resource.api_version
            )


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
        await preflight(api, options.namespaces)
        credentials = await connection.credentials(api.api.configuration)
    except client.Unreachable as err:
        logger.error("Cannot reach the API server: %s", err)
        return EXIT_UNREACHABLE
    except (Misconfigured, client.KubeError) as err:
        logger.error("Cannot start: %s", err)
        return EXIT_MISCONFIGURED

    ready = asyncio.Event()
    registry_metrics = metrics.Metrics()
    try:
        servers = await serving.start(
            host=options.host,
            health_port=options.health_port,
            metrics_port=options.metrics_port,
            ready=ready.is_set,
            registry=registry_metrics,
        )
    except OSError as err:
        logger.error("Cannot open the health/metrics ports: %s", err)
        return EXIT_MISCONFIGURED
    # The Lease has a connection pool of its own: a burst of reconciles queueing for
    # connections must never make a renewal late and cost the leadership.
    lease_api = await client.Client.connect(options.kubeconfig) if options.leader_election else None
    elector = (
        leader.Elector(
            lease_api,
            namespace=options.leader_election_namespace,
            name=options.lease_name,
            timing=options.lease,
        )
        if lease_api is not None
        else None
    )
    try:
        return await _lead_and_operate(api, options, elector, credentials, registry_metrics, ready)
    finally:
        await servers.stop()
        if lease_api is not None:
            await lease_api.close()


async def _lead_and_operate(
    api: client.Client,
    options: RunOptions,
    elector: leader.Elector | None,
    credentials: connection.Credentials,
    registry_metrics: metrics.Metrics,
    ready: asyncio.Event,
) -> int:
    stop = asyncio.Event()
    _on_signals(stop)
    if elector is not None:
        acquiring = asyncio.create_task(elector.acquire())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not acquiring.done():
            acquiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquiring
            logger.info("Stopped before becoming the leader.")
            return EXIT_OK
    else:
        logger.info("Leader election is disabled: this instance acts at once.")

    ctx = context.Context(
        api=api,
        registry=state.Registry(),
        recorder=events.Recorder(
            api, instance=elector.identity if elector else leader.default_identity()
        ),
        metrics=registry_metrics,
        options=options.tuning,
    )
    ctx.recorder.start()
    code = EXIT_OK
    try:
        code = await _operate(ctx, options, elector, credentials, stop, ready)
    finally:
        ready.clear()
        await ctx.cancel_all()
        await ctx.recorder.stop()
        if elector is not None and code != EXIT_LOST:
            await elector.release()
    return code


async def _operate(
    ctx: context.Context,
    options: RunOptions,
    elector: leader.Elector | None,
    credentials: connection.Credentials,
    stop: asyncio.Event,
    ready: asyncio.Event,
) -> int:
    kopf_ready = asyncio.Event()
    kopf_stop = asyncio.Event()
    namespaces = list(options.namespaces)
    try:
        await resync.prime(ctx, namespaces or None)
    except client.KubeError as failure:
        logger.error("Cannot read what exists before serving claims: %s; exiting.", failure)
        return EXIT_LOST
    tasks: dict[str, asyncio.Task[None]] = {
        "operator": asyncio.create_task(
            kopf.operator(
                registry=operator.registry(ctx, credentials),
                settings=operator.settings(),
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
        "ready": asyncio.create_task(_mark_ready(kopf_ready, ready, stop), name="ready"),
    }
    if elector is not None:
        tasks["lease"] = asyncio.create_task(elector.keep(), name="lease")
    scope = ", ".join(namespaces) if namespaces else "all namespaces"
    logger.info("Controller running for %s.", scope)
    code = EXIT_OK
    try:
        while True:
            done, _ = await asyncio.wait(
                [t for k, t in tasks.items() if k != "ready"], return_when=asyncio.FIRST_COMPLETED
            )
            finished = done.pop()
            if finished is tasks.get("lease"):
                logger.error(
                    "Leadership lost (%s): exiting so that a restart begins clean.",
                    finished.exception(),
                )
                code = EXIT_LOST
            elif finished is tasks["operator"] and finished.exception() is not None:
                logger.error("The operator failed: %s", finished.exception())
                code = EXIT_LOST
            elif finished is tasks["resync"]:
                logger.error(
                    "The re-alignment task failed; restarting it.", exc_info=finished.exception()
                )
                tasks["resync"] = asyncio.create_task(
                    resync.forever(ctx, namespaces or None), name="resync"
                )
                continue
            break
    finally:
        kopf_stop.set()
        operator_task = tasks.pop("operator")
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        # Our own background work ends first: Kopf gives whatever task is left when it
        # stops five seconds to finish before it cancels it.
        await ctx.cancel_all()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(operator_task, timeout=10)
    return code


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
