"""One address of a namespace is made by one controller at a time: a short-lived Lease per address.

Only needed when several controllers act at once (leader election off). Within one claim
kind and pool the IPAddress name is the lock (the API server refuses a second object of
a name), but a Metal3 and a Cluster API IPAddress of one name are objects of two
resources, and two pools whose ranges overlap name one address differently. So
before either is made, the controller takes the Lease named for the pool's namespace and
the address (:func:`ipam.core.names.address_lock_name`) in its own namespace, reads the
IPAddresses that could hold that address without clashing on the name (the other kind's
of that name; both kinds' in pools whose ranges overlap), and gives the Lease back once its
own IPAddress exists.

The Lease is taken by creating it (AlreadyExists: someone holds it) and given back by
deleting it on the condition that it is still the version we wrote. A holder that died
with it leaves it behind: whoever finds the same version of it unchanged for its
``leaseDurationSeconds``, timed on its own clock from the moment it first saw that version
(as client-go's leader election judges expiry: two machines' clocks are never compared),
takes it over with a conditional update. So a lock never outlives its duration by more
than one look, and never needs two clocks to agree.

A holder keeps its side of that bargain with :meth:`Locks.in_time`: it sends its create
only within the first :data:`SEND_WITHIN` of the duration, leaving the rest for the request
to land before anyone may take the Lease over. A holder that got no sure answer to its
create keeps the Lease until it expires (:meth:`Locks.release_when_expired`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ipam.core import names
from ipam.kube import api as kube_api
from ipam.kube import client, resources

logger = logging.getLogger("ipam.lock")

DURATION = 90.0
"""Seconds a Lease whose holder never gives it back blocks its address (one address: the
claim that wanted it takes the next). Far above the milliseconds a lock is normally held."""
SEND_WITHIN = 1 / 3
"""Share of the duration within which a holder must have sent the write the lock protects
(30 s of 90): the remaining 60 s are the API server's own request timeout (its default), so
a request sent in time has landed or failed before anyone may take the Lease over."""
BUSY_RETRY = 1.0
"""Seconds before a claim that needs exactly a locked address looks again, while the lock
is fresh (a live holder normally gives it back within milliseconds)."""
BUSY_RETRY_MAX = 5.0
"""Seconds between looks at a lock that has not changed since it was first seen."""
LOCK_LABEL = f"{resources.OWN_PREFIX}/lock"
"""On every address Lease (value ``address``), so ``kubectl get leases -l`` finds them."""
POOL_NAMESPACE_LABEL = f"{resources.OWN_PREFIX}/pool-namespace"
"""On every address Lease: the namespace of the pool whose address it locks."""
CREATE_ATTEMPTS = 3
"""Creates tried when the Lease vanishes between our create and our read of it."""
FORGET_AFTER = 4
"""Versions first seen more than this many durations ago are forgotten."""


@dataclass(frozen=True)
class Held:
    """A Lease we hold: the version we wrote, and when we started to take it (monotonic)."""

    name: str
    uid: str
    resource_version: str
    since: float


@dataclass(frozen=True)
class Busy:
    """Someone else holds the Lease; look again after ``retry_in`` seconds at the earliest."""

    name: str
    holder: str
    retry_in: float


def _format(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Locks:
    """The address Leases of one controller, in ``namespace`` (the leader-election one)."""

    api: kube_api.Api
    namespace: str
    identity: str
    duration: float = DURATION
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Lease name -> (resourceVersion, monotonic time it was first seen at)."""
    _later: set[asyncio.Task[None]] = field(default_factory=set)
    """Leases to give back once they have expired (see :meth:`release_when_expired`)."""

    def holder(self, claim_uid: str) -> str:
        return f"{self.identity}/{claim_uid}"

    def in_time(self, held: Held) -> bool:
        """Whether the holder may still send the write the lock protects."""
        return self.clock() - held.since < self.duration * SEND_WITHIN

    def _spec(self, claim_uid: str, transitions: int = 0) -> dict[str, Any]:
        now = _format(datetime.datetime.now(datetime.UTC))
        return {
            "holderIdentity": self.holder(claim_uid),
            "leaseDurationSeconds": max(1, round(self.duration)),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def acquire(self, pool_namespace: str, address: str, claim_uid: str) -> Held | Busy:
        """Take the Lease of ``address`` in the pool's namespace for the claim, or say who
        holds it."""
        name = names.address_lock_name(pool_namespace, address)
        try:
            return await self._acquire(name, pool_namespace, claim_uid)
        except client.KubeError as err:
            if err.status != 403:
                raise
            raise client.KubeError(
                f"cannot take the address lock {self.namespace}/{name}: {err}. Without leader "
                f"election every instance needs get, create, update and delete on leases in "
                f"{self.namespace} (config/rbac/leader_election_role.yaml).",
                status=err.status,
                reason=err.reason,
            ) from err

    async def _acquire(self, name: str, pool_namespace: str, claim_uid: str) -> Held | Busy:
        since = self.clock()
        for _ in range(CREATE_ATTEMPTS):
            body = {
                "apiVersion": resources.LEASE.api_version,
                "kind": resources.LEASE.kind,
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {LOCK_LABEL: "address", POOL_NAMESPACE_LABEL: pool_namespace},
                },
                "spec": self._spec(claim_uid),
            }
            created = await self.api.create(resources.LEASE, self.namespace, body)
            if isinstance(created, client.Created):
                return self._held(name, created.body, since)
            current = await self.api.get(resources.LEASE, self.namespace, name)
            if current is None:
                continue  # given back between our create and our read: try again
            taken = await self._take_over(name, current, claim_uid, since)
            if taken is not None:
                return taken
            spec = current.get("spec") or {}
            return Busy(name, str(spec.get("holderIdentity") or "?"), self._retry_in(name))
        return Busy(name, "?", BUSY_RETRY)

    async def _take_over(
        self, name: str, current: client.Body, claim_uid: str, since: float
    ) -> Held | None:
        """The Lease, if its holder is this very claim of ours or let it expire; else None."""
        meta = current.get("metadata") or {}
        spec = current.get("spec") or {}
        version = str(meta.get("resourceVersion") or "")
        holder = str(spec.get("holderIdentity") or "")
        now = self.clock()
        if holder != self.holder(claim_uid):
            first = self._seen.get(name)
            if first is None or first[0] != version:
                self._forget_old(now)
                self._seen[name] = (version, now)
                return None
            if now - first[1] < _duration_of(spec, self.duration):
                return None
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.holder(claim_uid))
        try:
            written = await self.api.replace(
                resources.LEASE,
                self.namespace,
                name,
                {**current, "spec": self._spec(claim_uid, transitions)},
            )
        except client.Conflict:
            return None  # changed meanwhile: someone else took it, or its holder gave it back
        if written is None:
            return None
        self._seen.pop(name, None)
        if holder != self.holder(claim_uid):
            logger.warning(
                "Address lock %s/%s: %s did not give it back within %.0fs; taken over "
                "(its holder stopped between taking it and making the address).",
                self.namespace,
                name,
                holder or "nobody",
                _duration_of(spec, self.duration),
            )
        return self._held(name, written, since)

    def _held(self, name: str, body: client.Body, since: float) -> Held:
        meta = body.get("metadata") or {}
        return Held(name, str(meta.get("uid") or ""), str(meta.get("resourceVersion") or ""), since)

    def _retry_in(self, name: str) -> float:
        first = self._seen.get(name)
        if first is None:
            return BUSY_RETRY
        waited = self.clock() - first[1]
        if waited < BUSY_RETRY:
            return BUSY_RETRY
        return max(BUSY_RETRY, min(BUSY_RETRY_MAX, self.duration - waited))

    def _forget_old(self, now: float) -> None:
        old = [
            n for n, (_, seen) in self._seen.items() if now - seen > self.duration * FORGET_AFTER
        ]
        for name in old:
            del self._seen[name]

    def release_when_expired(self, held: Held) -> None:
        """Give the Lease back once its duration is over: a write sent under it may land
        until then, and nobody may take the address meanwhile. (Taken over by then, it is
        someone else's and stays.)"""
        task = asyncio.get_running_loop().create_task(self._release_after(held))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _release_after(self, held: Held) -> None:
        await asyncio.sleep(max(0.0, held.since + self.duration - self.clock()))
        await self.release(held)

    def close(self) -> None:
        """Stop the releases still waiting (their Leases expire for whoever comes next)."""
        for task in list(self._later):
            task.cancel()

    async def release(self, held: Held) -> None:
        """Give the Lease back, if it is still the version we wrote; never raises."""
        try:
            await self.api.delete(
                resources.LEASE,
                self.namespace,
                held.name,
                uid=held.uid,
                resource_version=held.resource_version,
            )
        except client.KubeError as err:
            logger.warning(
                "Address lock %s/%s: not given back (%s); it expires in %.0fs.",
                self.namespace,
                held.name,
                err,
                self.duration,
            )


def _duration_of(spec: dict[str, Any], default: float) -> float:
    value = spec.get("leaseDurationSeconds")
    return float(value) if isinstance(value, int) and value > 0 else default
