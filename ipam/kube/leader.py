"""One active controller per cluster: a coordination.k8s.io Lease, taken, renewed, and given back.

The Lease follows the client-go convention (holderIdentity, leaseDurationSeconds,
acquireTime, renewTime, leaseTransitions), so ``kubectl get lease`` reads as usual. A
holder that fails to renew within ``renew_deadline`` has lost the lease: it stops acting at
once and tries to win it back, in the same process.

:class:`Campaign` runs the election in a thread of its own, with its own event loop and
its own connection: however busy the controller's event loop is, renewals are on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ipam.kube import client, resources

logger = logging.getLogger(__name__)

LEASE_NAME = "capi-ipam-controller"


class LeadershipLost(Exception):
    """The lease could not be renewed in time, or another holder took it."""


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def default_identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _format(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: object) -> datetime.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
    return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def held_by_other(spec: dict[str, Any], identity: str, now: datetime.datetime) -> bool:
    """Whether someone else holds an unexpired lease (an empty holder is nobody)."""
    holder = spec.get("holderIdentity") or ""
    if not holder or holder == identity:
        return False
    renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds") or 0
    if renewed is None:
        return False
    return renewed + datetime.timedelta(seconds=float(duration)) > now


class Elector:
    """Takes and keeps the Lease ``namespace/name`` for ``identity``."""

    def __init__(
        self,
        api: client.Client,
        *,
        namespace: str,
        name: str = LEASE_NAME,
        identity: str | None = None,
        timing: Timing = Timing(),
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.timing = timing
        self.leading = False
        self._written: dict[str, Any] | None = None
        """The Lease as the server answered our last write of it, while that write won."""

    def _spec(self, previous: dict[str, Any], now: datetime.datetime) -> dict[str, Any]:
        taking_over = previous.get("holderIdentity") != self.identity
        transitions = int(previous.get("leaseTransitions") or 0)
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.timing.lease_duration),
            "acquireTime": _format(now)
            if taking_over
            else previous.get("acquireTime") or _format(now),
            "renewTime": _format(now),
            "leaseTransitions": transitions + 1
            if taking_over and previous.get("holderIdentity")
            else transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when we hold the lease afterwards.

        While leading, the Lease as we last wrote it is written again with a new
        renewTime: one round trip. A Conflict (someone else wrote it since) or a Lease
        gone sends the attempt the long way: read it, judge whose it is, write.
        """
        if self.leading and self._written is not None:
            renewed = await self._renew(self._written)
            if renewed is not None:
                return renewed
        return await self._read_and_write()

    async def _renew(self, last: dict[str, Any]) -> bool | None:
        """The Lease written back as we left it, renewed; None when it must be read first."""
        spec = dict(last.get("spec") or {})
        try:
            written = await self.api.replace(
                resources.LEASE,
                self.namespace,
                self.name,
                {**last, "spec": self._spec(spec, _now())},
            )
        except client.Conflict:
            self._written = None
            return None
        self._written = written
        return True if written is not None else None

    async def _read_and_write(self) -> bool:
        now = _now()
        self._written = None
        lease = await self.api.get(resources.LEASE, self.namespace, self.name)
        if lease is None:
            body = {
                "apiVersion": resources.LEASE.api_version,
                "kind": resources.LEASE.kind,
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec({}, now),
            }
            result = await self.api.create(resources.LEASE, self.namespace, body)
            if isinstance(result, client.Created):
                self._written = result.body
                return True
            return False
        spec = dict(lease.get("spec") or {})
        if held_by_other(spec, self.identity, now):
            return False
        try:
            written = await self.api.replace(
                resources.LEASE, self.namespace, self.name, {**lease, "spec": self._spec(spec, now)}
            )
        except client.Conflict:
            return False
        self._written = written
        return written is not None

    async def acquire(self) -> None:
        """Wait until we lead; logs who holds the lease meanwhile."""
        announced = False
        while True:
            try:
                won = await asyncio.wait_for(
                    self.try_acquire_or_renew(), timeout=self.timing.renew_deadline
                )
            except TimeoutError:
                logger.warning(
                    "Leader election: no answer within %.0fs.", self.timing.renew_deadline
                )
                won = False
            except client.KubeError as err:
                logger.warning("Leader election: %s", err)
                won = False
            if won:
                self.leading = True
                logger.info(
                    "Became the leader (lease %s/%s, identity %s).",
                    self.namespace,
                    self.name,
                    self.identity,
                )
                return
            if not announced:
                logger.info(
                    "Waiting for the lease %s/%s held by another controller instance.",
                    self.namespace,
                    self.name,
                )
                announced = True
            await asyncio.sleep(self.timing.retry_period)

    async def keep(self) -> None:
        """Renew forever; raise :class:`LeadershipLost` when the lease cannot be kept.

        A renewal is tried every ``retry_period``. No attempt may use up the deadline: each
        is given at most twice the retry period (and never more than is left of
        ``renew_deadline`` since the last renewal), then abandoned (its connection with it)
        and tried again. Only when ``renew_deadline`` has passed since the last renewal
        that went through, or another holder has the Lease, is leadership lost.
        """
        loop = asyncio.get_running_loop()
        timing = self.timing
        last_renewal = loop.time()
        next_attempt = last_renewal + timing.retry_period
        while True:
            await asyncio.sleep(max(0.0, next_attempt - loop.time()))
            started = loop.time()
            next_attempt = started + timing.retry_period
            left = last_renewal + timing.renew_deadline - started
            if left <= 0:
                self.leading = False
                raise LeadershipLost(
                    f"lease {self.namespace}/{self.name} not renewed for {timing.renew_deadline:.0f}s"
                )
            allowed = min(2 * timing.retry_period, left)
            try:
                renewed = await asyncio.wait_for(self.try_acquire_or_renew(), timeout=allowed)
            except TimeoutError:
                logger.warning(
                    "Could not renew the lease: no answer within %.1fs; trying again.", allowed
                )
                renewed = None
            except client.KubeError as err:
                logger.warning(
                    "Could not renew the lease: %s; trying again.", str(err) or type(err).__name__
                )
                renewed = None
            if renewed:
                last_renewal = started
            elif renewed is False:
                self.leading = False
                raise LeadershipLost(
                    f"lease {self.namespace}/{self.name} was taken by another holder"
                )

    async def release(self) -> None:
        """Give the lease back at a clean exit, so a successor need not wait for it to expire."""
        if not self.leading:
            return
        self.leading = False
        try:
            lease = await self.api.get(resources.LEASE, self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = dict(lease.get("spec") or {})
            spec.pop("holderIdentity", None)
            spec.update(leaseDurationSeconds=1, renewTime=_format(_now()))
            await self.api.replace(
                resources.LEASE, self.namespace, self.name, {**lease, "spec": spec}
            )
            logger.info("Released the lease %s/%s.", self.namespace, self.name)
        except client.KubeError as err:
            logger.warning("Could not release the lease: %s", err)


Listener = Callable[[bool, str], None]
"""Told (in the thread of the campaign) when leadership is won (True) or lost (False, why)."""


class Campaign:
    """Leader election in a thread of its own: win, keep, lose, win again; release at the end."""

    def __init__(
        self,
        kubeconfig: str | None,
        *,
        namespace: str,
        name: str = LEASE_NAME,
        identity: str | None = None,
        timing: Timing = Timing(),
    ) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.timing = timing
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()

    def start(self, listener: Listener) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(listener,), name="leader-election", daemon=True
        )
        self._thread.start()
        self._started.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Give the lease back (if held) and end the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, listener: Listener) -> None:
        asyncio.run(self._campaign(listener))

    async def _campaign(self, listener: Listener) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        api = await client.Client.connect(self.kubeconfig)
        elector = Elector(
            api,
            namespace=self.namespace,
            name=self.name,
            identity=self.identity,
            timing=self.timing,
        )
        try:
            while not self._stop.is_set():
                if not await self._until_stopped(elector.acquire()):
                    break
                listener(True, "")
                kept = asyncio.ensure_future(elector.keep())
                if not await self._until_stopped(kept):
                    break
                try:
                    kept.result()
                except LeadershipLost as lost:
                    listener(False, str(lost))
                except Exception as err:  # never leave the controller believing it leads
                    logger.exception("Leader election failed")
                    elector.leading = False
                    listener(False, f"leader election failed: {err!r}")
                await asyncio.sleep(self.timing.retry_period)
        finally:
            await elector.release()
            await api.close()

    async def _until_stopped(self, work: Any) -> bool:
        """Run ``work`` until it ends (True) or the campaign is stopped (False)."""
        assert self._stop is not None
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if task.done():
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, LeadershipLost, client.KubeError):
            await task
        return False
