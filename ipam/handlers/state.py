"""What this process believes, in memory: per pool one lock and one ledger, rebuilt from watches.

The ledger of a pool is a projection of the IPAddress objects of both kinds that name it,
fed by the watch stream and by this process's own creations (so an address created a
moment ago counts as used before the watch shows it back: the cache-lag window). The API
objects stay the only truth: :meth:`Registry.replace_addresses` re-aligns everything with
a fresh List, and nothing here is ever written back as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

from ipam.core import ledger, names
from ipam.kube import bodies, resources

PoolKey = tuple[str, str]
"""(namespace, pool name)."""

AddressKey = tuple[str, resources.ClaimKind, str]
"""(namespace, kind, object name)."""


@dataclass
class Seen:
    record: bodies.AddressRecord
    at: float


@dataclass
class PoolState:
    """One pool as far as this process knows it; it may exist before the pool object does."""

    namespace: str
    name: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    book: ledger.Ledger = field(default_factory=ledger.Ledger)
    """The pool's ledger: who holds which address, both claim kinds."""
    objects: dict[tuple[resources.ClaimKind, str], Seen] = field(default_factory=dict)
    """Every IPAddress naming this pool, by (kind, object name)."""
    by_claim: dict[ledger.ClaimKey, set[tuple[resources.ClaimKind, str]]] = field(
        default_factory=dict
    )
    """The same objects, by the claim they record."""
    record: bodies.PoolRecord | None = None
    claims: dict[ledger.ClaimKey, bool] = field(default_factory=dict)
    """Claims that name this pool, and whether each waits for an address."""
    first_unbound: dict[ledger.ClaimKey, float] = field(default_factory=dict)
    """When each claim that was served before, yet holds nothing, was first seen so."""
    retried_generation: int = 0
    held: bool = False
    """Whether the pool was last found paused (or waiting for its Cluster)."""
    status_task: asyncio.Task[None] | None = None
    status_dirty: bool = False
    """Whether something changed since the last status write began."""
    retry_task: asyncio.Task[None] | None = None

    @property
    def key(self) -> PoolKey:
        return (self.namespace, self.name)

    def records_of(self, claim: ledger.ClaimKey) -> list[bodies.AddressRecord]:
        return [self.objects[key].record for key in sorted(self.by_claim.get(claim, ()))]

    def put(self, record: bodies.AddressRecord) -> None:
        key = (record.flavour.kind, record.meta.name)
        self.pop(key)
        self.objects[key] = Seen(record, time.monotonic())
        self.by_claim.setdefault(record.claim, set()).add(key)

    def pop(self, key: tuple[resources.ClaimKind, str]) -> Seen | None:
        seen = self.objects.pop(key, None)
        if seen is not None:
            keys = self.by_claim.get(seen.record.claim)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_claim[seen.record.claim]
        return seen

    def split_holdings(
        self, claim: ledger.ClaimKey
    ) -> tuple[bodies.AddressRecord | None, list[bodies.AddressRecord]]:
        """The IPAddress the claim keeps, and the extra ones it must give back.

        A claim holds one address. Two controllers acting at once (leader election off,
        or a split brain) can each create one for the same claim; both then pick the same
        keeper from immutable facts, the oldest object (by creation time, then name).
        """
        records = sorted(self.records_of(claim), key=lambda r: (r.meta.creation, r.meta.name))
        if not records:
            return None, []
        return records[0], records[1:]

    def unreserve(self, reserved: ledger.Holding) -> None:
        """Take back an address reserved for a creation that did not happen.

        Nothing changes when an IPAddress recording that very holding has been seen: then
        the object exists and the ledger must keep it.
        """
        if any(record.holding == reserved for record in self.records_of(reserved.claim)):
            return
        self.book.remove(reserved.address, reserved.claim)

    def waiting(self) -> list[ledger.ClaimKey]:
        return sorted(claim for claim, waits in self.claims.items() if waits)


class Registry:
    """Every pool, address and Cluster this process has seen, by key."""

    def __init__(self) -> None:
        self.pools: dict[PoolKey, PoolState] = {}
        self.by_namespace: dict[str, dict[str, PoolState]] = {}
        self.address_pool: dict[AddressKey, PoolKey] = {}
        self.clusters: dict[tuple[str, str], bodies.ClusterRecord] = {}
        self.claim_pool: dict[tuple[str, ledger.ClaimKey], PoolKey] = {}
        self.claim_writes: dict[tuple[str, ledger.ClaimKey], str] = {}
        """The resourceVersion our last write to each claim produced."""
        self.claim_locks: dict[tuple[str, ledger.ClaimKey], tuple[asyncio.Lock, int]] = {}
        """Per claim: a lock, and how many reconciles hold or wait for it."""

    # --- pools -----------------------------------------------------------------------------

    def pool(self, namespace: str, name: str) -> PoolState:
        key = (namespace, name)
        state = self.pools.get(key)
        if state is None:
            state = self.pools[key] = PoolState(namespace, name)
            self.by_namespace.setdefault(namespace, {})[name] = state
        return state

    def observe_pool(self, record: bodies.PoolRecord) -> PoolState:
        state = self.pool(record.meta.namespace, record.meta.name)
        state.record = record
        return state

    def forget_pool(self, namespace: str, name: str, uid: str) -> None:
        state = self.pools.get((namespace, name))
        if state is not None and state.record is not None and state.record.meta.uid == uid:
            state.record = None

    def pools_in(self, namespace: str) -> list[PoolState]:
        return [s for s in self.by_namespace.get(namespace, {}).values() if s.record is not None]

    def overlapping(self, state: PoolState) -> list[PoolState]:
        """Other pools of the namespace that produce at least one address of this one."""
        if state.record is None:
            return []
        mine = state.record.pool
        return [
            other
            for other in self.pools_in(state.namespace)
            if other is not state
            and other.record is not None
            and names.overlapping_pools({"a": mine, "b": other.record.pool})
        ]

    @contextlib.asynccontextmanager
    async def locked(self, states: Iterable[PoolState]) -> AsyncIterator[None]:
        """Hold the locks of several pools, taken in one global order (no deadlock)."""
        async with contextlib.AsyncExitStack() as stack:
            for state in sorted({s.key: s for s in states}.values(), key=lambda s: s.key):
                await stack.enter_async_context(state.lock)
            yield

    # --- addresses -------------------------------------------------------------------------

    def observe_address(self, record: bodies.AddressRecord) -> PoolState | None:
        """Record an IPAddress as seen now; returns its pool when the ledger changed."""
        key: AddressKey = (record.meta.namespace, record.flavour.kind, record.meta.name)
        previous_pool = self.address_pool.get(key)
        if not record.pool_name or not record.address:
            if previous_pool is not None:
                return self._drop(key, previous_pool)
            return None
        pool_key = (record.meta.namespace, record.pool_name)
        changed: PoolState | None = None
        if previous_pool is not None and previous_pool != pool_key:
            self._drop(key, previous_pool)
        state = self.pool(*pool_key)
        seen = state.objects.get((record.flavour.kind, record.meta.name))
        if seen is None or seen.record.holding != record.holding:
            if seen is not None:
                state.book.remove(seen.record.address, seen.record.claim)
            state.book.add(record.holding)
            changed = state
        state.put(record)
        self.address_pool[key] = pool_key
        return changed

    def forget_address(
        self, kind: resources.ClaimKind, namespace: str, name: str, uid: str
    ) -> PoolState | None:
        """Forget an IPAddress that is gone; an older incarnation never removes a newer one."""
        key: AddressKey = (namespace, kind, name)
        pool_key = self.address_pool.get(key)
        if pool_key is None:
            return None
        state = self.pools[pool_key]
        seen = state.objects.get((kind, name))
        if seen is not None and uid and seen.record.meta.uid and seen.record.meta.uid != uid:
            return None
        return self._drop(key, pool_key)

    def _drop(self, key: AddressKey, pool_key: PoolKey) -> PoolState | None:
        state = self.pools.get(pool_key)
        self.address_pool.pop(key, None)
        if state is None:
            return None
        seen = state.pop((key[1], key[2]))
        if seen is None:
            return None
        state.book.remove(seen.record.address, seen.record.claim)
        return state

    def replace_addresses(
        self,
        kind: resources.ClaimKind,
        namespace: str | None,
        records: Iterable[bodies.AddressRecord],
        *,
        listed_at: float,
    ) -> set[PoolKey]:
        """Align with a fresh List: add what is missing, drop what is gone.

        Objects recorded after the List began (``listed_at``, monotonic) are kept even if
        the List does not show them: they are this process's newest creations.
        """
        changed: set[PoolKey] = set()
        present: set[AddressKey] = set()
        for record in records:
            present.add((record.meta.namespace, kind, record.meta.name))
            state = self.observe_address(record)
            if state is not None:
                changed.add(state.key)
        for key, pool_key in list(self.address_pool.items()):
            if key[1] != kind or (namespace is not None and key[0] != namespace):
                continue
            if key in present:
                continue
            seen = self.pools[pool_key].objects.get((kind, key[2]))
            if seen is not None and seen.at >= listed_at:
                continue
            state = self._drop(key, pool_key)
            if state is not None:
                changed.add(state.key)
        return changed

    def record_of(
        self, kind: resources.ClaimKind, namespace: str, name: str
    ) -> bodies.AddressRecord | None:
        pool_key = self.address_pool.get((namespace, kind, name))
        if pool_key is None:
            return None
        seen = self.pools[pool_key].objects.get((kind, name))
        return seen.record if seen else None

    # --- claims ----------------------------------------------------------------------------

    def note_claim(self, claim: bodies.ClaimRecord, *, waiting: bool) -> None:
        """Remember which pool a claim names, and whether it still waits for an address."""
        key = (claim.meta.namespace, claim.key)
        pool_key = (claim.meta.namespace, claim.pool_name)
        previous = self.claim_pool.get(key)
        if previous is not None and previous != pool_key and previous in self.pools:
            self.pools[previous].claims.pop(claim.key, None)
        if not claim.pool_name or not claim.served:
            self.claim_pool.pop(key, None)
            return
        self.claim_pool[key] = pool_key
        self.pool(*pool_key).claims[claim.key] = waiting

    @contextlib.asynccontextmanager
    async def claim_turn(self, namespace: str, claim: ledger.ClaimKey) -> AsyncIterator[None]:
        """One reconcile of a claim at a time, whichever path (watch, retry, resync) started it."""
        key = (namespace, claim)
        lock, users = self.claim_locks.get(key, (asyncio.Lock(), 0))
        self.claim_locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self.claim_locks[key]
            if users <= 1:
                del self.claim_locks[key]
            else:
                self.claim_locks[key] = (lock, users - 1)

    def wrote_claim(self, namespace: str, claim: ledger.ClaimKey, version: str) -> None:
        self.claim_writes[(namespace, claim)] = version

    def stale_claim(self, namespace: str, claim: ledger.ClaimKey, version: str) -> bool:
        """Whether a claim body predates our own last write to it (a newer event will come)."""
        return bodies.older(version, self.claim_writes.get((namespace, claim)))

    def forget_claim(self, namespace: str, claim: ledger.ClaimKey) -> None:
        self.claim_writes.pop((namespace, claim), None)
        pool_key = self.claim_pool.pop((namespace, claim), None)
        if pool_key is not None and pool_key in self.pools:
            self.pools[pool_key].claims.pop(claim, None)

    # --- clusters --------------------------------------------------------------------------

    def observe_cluster(self, record: bodies.ClusterRecord) -> bool:
        """Record a Cluster; True when its paused flag changed."""
        previous = self.clusters.get(record.meta.key)
        self.clusters[record.meta.key] = record
        return previous is None or previous.paused != record.paused

    def forget_cluster(self, namespace: str, name: str) -> None:
        self.clusters.pop((namespace, name), None)

    def cluster(self, namespace: str, name: str) -> bodies.ClusterRecord | None:
        return self.clusters.get((namespace, name))

    def pools_of_cluster(self, namespace: str, name: str) -> Iterator[PoolState]:
        for state in self.pools_in(namespace):
            if state.record is not None and state.record.cluster_name == name:
                yield state
