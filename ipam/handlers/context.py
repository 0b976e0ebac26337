"""What every reconcile needs, in one object: the API, the state, the queues, events and metrics.

Work is never started directly: handlers put keys on the queues (:meth:`Context.claim`,
:meth:`Context.pool`, :meth:`Context.address`) and the workers of
:mod:`ipam.handlers.scheduler` reconcile them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ipam.core import ledger, status
from ipam.handlers import metrics, state, workqueue
from ipam.kube import address_lock, bodies, events, resources
from ipam.kube import api as kube_api

logger = logging.getLogger("ipam")


class ClaimRef(NamedTuple):
    """A claim of either kind."""

    kind: resources.ClaimKind
    namespace: str
    name: str


class AddressRef(NamedTuple):
    """An IPAddress of either kind (its kind is its claim's)."""

    kind: resources.ClaimKind
    namespace: str
    name: str


PoolRef = state.PoolKey


@dataclass(frozen=True)
class Options:
    """Tunables of the controller (the CLI sets them; tests shorten them)."""

    resync_period: float = 300.0
    """Seconds between two full re-alignments with fresh Lists of everything."""
    rebind_grace: float = 10.0
    """Seconds a claim that was served before, but holds nothing now, waits for its IPAddress
    to show up (after a move, objects arrive out of order) before it acts."""
    orphan_grace: float = 10.0
    """Seconds an IPAddress of ours whose claim does not exist waits before it is released."""
    move_settle: float = 120.0
    """How long a pool whose recorded holdings have not all arrived waits, counted from the
    last IPAddress that did arrive, before it serves claims that hold nothing."""
    status_delay: float = 0.5
    """Seconds to gather changes before one pool status write."""
    indexes_limit: int = status.INDEXES_LIMIT
    """Most claims a pool's ``status.indexes`` lists (past it, the field is left out)."""
    concurrency: int = 64
    """Claims reconciled at once."""
    pool_workers: int = 4
    address_workers: int = 8
    limits: workqueue.Limits = field(default_factory=workqueue.Limits)


def _namespace_of(key: Any) -> str:
    return str(key[1] if len(key) == 3 else key[0])


@dataclass
class Context:
    api: kube_api.Api
    registry: state.Registry
    recorder: events.Recorder
    metrics: metrics.Metrics
    options: Options = Options()
    clusters_served: bool = True
    """Whether the API server serves Cluster API Clusters at all."""
    locks: address_lock.Locks | None = None
    """Per-address Leases taken before an IPAddress is made, when other controllers may act
    at once (leader election off) and both IPAddress kinds are served; None otherwise: a
    single leader needs no lock across kinds, and pays nothing for it."""
    claims: workqueue.WorkQueue[ClaimRef] = field(init=False)
    pools: workqueue.WorkQueue[PoolRef] = field(init=False)
    addresses: workqueue.WorkQueue[AddressRef] = field(init=False)
    mailbox: dict[ClaimRef, bodies.Kept] = field(default_factory=dict)
    """The newest watch body of each queued claim (packed), taken by its reconcile."""
    deleted: set[ClaimRef] = field(default_factory=set)
    """Claims whose newest watch event said DELETED: their reconcile need not ask the server."""

    def __post_init__(self) -> None:
        limits = self.options.limits
        self.claims = workqueue.WorkQueue(
            "claims", shard=_namespace_of, urgent=self._claim_is_new_work, limits=limits
        )
        self.pools = workqueue.WorkQueue("pools", shard=_namespace_of, limits=limits)
        self.addresses = workqueue.WorkQueue("addresses", shard=_namespace_of, limits=limits)

    # --- scheduling ------------------------------------------------------------------------

    def _claim_is_new_work(self, ref: ClaimRef) -> bool:
        """Whether a queued claim goes ahead of the re-checks: its status names no address
        yet, or it is being deleted. A restart lists every claim at once; a new one is served
        before the thousands that are bound already.

        Judged by the newest body seen when there is one, otherwise by the ledger.
        """
        kept = self.mailbox.get(ref)
        if kept is not None:
            return not kept.reported_bound
        key = ledger.ClaimKey(ref.kind, ref.name)
        pools = self.registry.by_namespace.get(ref.namespace, {})
        return not any(pool.book.held_by(key) for pool in pools.values())

    def claim(self, ref: ClaimRef, body: bodies.Body | None = None, *, after: float = 0) -> None:
        """Reconcile the claim (with this body, if it is the newest one seen)."""
        if body is not None:
            self.mailbox[ref] = bodies.Kept.of(body)
            if ref in self.deleted:
                self.deleted.discard(ref)
                workqueue.give_back_room(self.deleted)
        if after > 0:
            self.claims.add_after(ref, after)
        else:
            self.claims.add(ref)

    def claim_deleted(self, ref: ClaimRef) -> None:
        """The watch saw the claim deleted: reconcile it as gone, without reading it again."""
        if self.mailbox.pop(ref, None) is not None:
            workqueue.give_back_room(self.mailbox)
        self.deleted.add(ref)
        self.claims.add(ref)

    def take_deleted(self, ref: ClaimRef) -> bool:
        """Whether the newest watch event of a queued claim said it was deleted."""
        if ref in self.deleted:
            self.deleted.discard(ref)
            workqueue.give_back_room(self.deleted)
            return True
        return False

    def take_body(self, ref: ClaimRef) -> bodies.Body | None:
        """The newest watch body of a queued claim, if one came since its last reconcile."""
        kept = self.mailbox.pop(ref, None)
        if kept is None:
            return None
        workqueue.give_back_room(self.mailbox)
        return kept.body()

    def pool(self, ref: PoolRef, *, after: float = 0) -> None:
        if after > 0:
            self.pools.add_after(ref, after)
        else:
            self.pools.add(ref)

    def holdings_changed(self, pool_state: state.PoolState) -> None:
        """The pool's status is written again, and so is every overlapping pool's: what
        one holds inside the other's ranges is not free there either."""
        self.pool(pool_state.key)
        for other in self.registry.overlapping(pool_state):
            self.pool(other.key)

    def address(self, ref: AddressRef, *, after: float = 0) -> None:
        if after > 0:
            self.addresses.add_after(ref, after)
        else:
            self.addresses.add(ref)

    def wake_waiting(self, pool_state: state.PoolState) -> None:
        """Every claim that waits for an address of the pool is looked at again."""
        for claim in sorted(pool_state.waiting):
            self.claim(ClaimRef(claim.kind, pool_state.namespace, claim.name))

    def shutdown(self) -> None:
        for queue in (self.claims, self.pools, self.addresses):
            queue.shutdown()
        if self.locks is not None:
            self.locks.close()

    # --- events ----------------------------------------------------------------------------

    def event_on_claim(
        self, claim: bodies.ClaimRecord, type_: events.EventType, reason: str, message: str
    ) -> None:
        resource = claim.flavour.claim
        self.recorder.record(
            events.Involved(resource.api_version, resource.kind, claim.meta), type_, reason, message
        )

    def tally_on_pool(
        self, pool: bodies.PoolRecord | None, claim: bodies.ClaimRecord, reason: str, item: str
    ) -> None:
        """Routine news about a claim, told on its pool in one Event per window."""
        if pool is None:
            self.event_on_claim(claim, "Normal", reason, item)
            return
        self.recorder.tally(
            events.Involved(resources.IPPOOL.api_version, resources.IPPOOL.kind, pool.meta),
            reason,
            "addresses",
            f"{item} ({claim.flavour.claim.kind} {claim.meta.name})",
        )

    def event_on_pool(
        self, pool: bodies.PoolRecord, type_: events.EventType, reason: str, message: str
    ) -> None:
        self.recorder.record(
            events.Involved(resources.IPPOOL.api_version, resources.IPPOOL.kind, pool.meta),
            type_,
            reason,
            message,
        )
