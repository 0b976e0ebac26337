"""One active controller per cluster: a coordination.k8s.io Lease, taken, renewed, and given back.

The Lease follows the client-go convention (holderIdentity, leaseDurationSeconds,
acquireTime, renewTime, leaseTransitions), so ``kubectl get lease`` reads as usual. A
holder that fails to renew within ``renew_deadline`` has lost the lease; losing it is
final for the process, which exits and restarts clean.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import uuid
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
        """One attempt: True when we hold the lease afterwards."""
        now = _now()
        lease = await self.api.get(resources.LEASE, self.namespace, self.name)
        if lease is None:
            body = {
                "apiVersion": resources.LEASE.api_version,
                "kind": resources.LEASE.kind,
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec({}, now),
            }
            result = await self.api.create(resources.LEASE, self.namespace, body)
            return isinstance(result, client.Created)
        spec = dict(lease.get("spec") or {})
        if held_by_other(spec, self.identity, now):
            return False
        try:
            written = await self.api.replace(
                resources.LEASE, self.namespace, self.name, {**lease, "spec": self._spec(spec, now)}
            )
        except client.Conflict:
            return False
        return written is not None

    async def acquire(self) -> None:
        """Wait until we lead; logs who holds the lease meanwhile."""
        announced = False
        while True:
            try:
                if await self.try_acquire_or_renew():
                    self.leading = True
                    logger.info(
                        "Became the leader (lease %s/%s, identity %s).",
                        self.namespace,
                        self.name,
                        self.identity,
                    )
                    return
            except client.KubeError as err:
                logger.warning("Leader election: %s", err)
            if not announced:
                logger.info(
                    "Waiting for the lease %s/%s held by another controller instance.",
                    self.namespace,
                    self.name,
                )
                announced = True
            await asyncio.sleep(self.timing.retry_period)

    async def keep(self) -> None:
        """Renew forever; raise :class:`LeadershipLost` when the lease cannot be kept."""
        loop = asyncio.get_running_loop()
        last_renewal = loop.time()
        while True:
            await asyncio.sleep(self.timing.retry_period)
            try:
                renewed = await asyncio.wait_for(
                    self.try_acquire_or_renew(), timeout=self.timing.renew_deadline
                )
            except (TimeoutError, client.KubeError) as err:
                logger.warning("Could not renew the lease: %s", err or type(err).__name__)
                renewed = None
            if renewed:
                last_renewal = loop.time()
                continue
            if renewed is False:
                self.leading = False
                raise LeadershipLost(
                    f"lease {self.namespace}/{self.name} was taken by another holder"
                )
            if loop.time() - last_renewal > self.timing.renew_deadline:
                self.leading = False
                raise LeadershipLost(
                    f"lease {self.namespace}/{self.name} not renewed for {self.timing.renew_deadline:.0f}s"
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
