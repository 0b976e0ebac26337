"""What this process believes, in memory: per pool one ledger, its IPAddress facts and a lock.

The ledger of a pool is a projection of the IPAddress objects of both kinds that name it,
fed by the watch streams, plus *reservations*: addresses this process is about to create
or expects to arrive (a moved claim's recorded address). A reservation and the object that
makes it real share one identity (kind and object name), so the object replaces it.

The API objects stay the only truth: :meth:`Registry.replace_addresses` re-aligns a kind
with a fresh List, and nothing here is ever written back as such. State of objects that
are gone is dropped, so memory follows what exists, with one exception: an address whose
IPAddress clusterctl deleted for a move stays held here (its claim holds it in the
target) for as long as this process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

from ipam.core import arrival, ledger, names
from ipam.kube import bodies, resources

PoolKey = tuple[str, str]
"""(namespace, pool name)."""

ClaimId = tuple[str, ledger.ClaimKey]
"""(namespace, claim)."""


COMPACT_AFTER = 1024
"""Addresses forgotten before the tables are compacted, at the least."""

MOVED_AWAY = " (moved away)"
"""Appended to a claim's name for the holder of an address a move took away (no object
name contains a space)."""


def moved_away_key(claim: ledger.ClaimKey) -> ledger.ClaimKey:
    """Who holds an address whose IPAddress left with a move (no object has this name)."""
    return ledger.ClaimKey(claim.kind, f"{claim.name}{MOVED_AWAY}")


def is_moved_away(holding: ledger.Holding) -> bool:
    """Whether ``holding`` keeps an address taken for a claim a move took away."""
    return holding.claim.name.endswith(MOVED_AWAY)


@dataclass(eq=False)
class PoolState:
    """One pool as far as this process knows it; it may exist before the pool object does."""

    namespace: str
    name: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    book: ledger.Ledger = field(default_factory=ledger.Ledger)
    """Who holds which address: every observed object and every reservation."""
    facts: dict[ledger.ObjectId, bodies.AddressFact] = field(default_factory=dict)
    """Every IPAddress object naming this pool, by identity (reservations have none).
    Changed only through :meth:`put_fact` and :meth:`pop_fact`, which keep ``observed``."""
    observed: dict[str, int] = field(default_factory=dict)
    """How many of ``facts`` hold each address: their distinct addresses, counted as they
    change rather than recounted from every fact at each status write or move check."""
    seen_at: dict[ledger.ObjectId, float] = field(default_factory=dict)
    """When each fact was last observed (monotonic), for re-alignment with a List."""
    record: bodies.PoolRecord | None = None
    waiting: set[ledger.ClaimKey] = field(default_factory=set)
    """Claims that wait for an address of this pool (woken when one is freed)."""
    first_unbound: dict[ledger.ClaimKey, float] = field(default_factory=dict)
    """When each claim that holds nothing was first seen so (for the arrival grace)."""
    unsettled_since: float | None = None
    """When the pool was first seen awaiting recorded addresses (a move in progress)."""
    awaiting_told: int = 0
    """How many awaited addresses the log last reported (it says so once per change)."""
    arrived_at: float | None = None
    """When an IPAddress of this pool was last seen for the first time (monotonic): while
    they keep arriving, a move is still creating them."""
    settled: bool = False
    """Whether every address the pool recorded as held was seen (or the wait ran out).
    Checked once per pool and process: afterwards the record follows the pool, not the
    other way round."""
    deleted_seen: int = 0
    """IPAddress deletions seen before the pool settled (they lower what is awaited)."""
    held: bool = False
    """Whether the pool was last found paused (or waiting for its Cluster)."""
    woken_generation: int = 0
    """The spec generation whose change last woke the waiting claims."""
    status_written_at: float = 0.0
    """When the status was last written (monotonic), to space writes out."""
    status_pace: float = 0.0
    """Seconds the next status write waits after the last one (grows during a burst)."""

    @property
    def key(self) -> PoolKey:
        return (self.namespace, self.name)

    def facts_of(self, claim: ledger.ClaimKey) -> list[bodies.AddressFact]:
        """The observed objects that name ``claim`` (reservations excluded)."""
        found = []
        for holding in self.book.holdings_of(claim):
            fact = self.facts.get(holding.identity)
            if fact is not None:
                found.append(fact)
        return found

    def known_addresses(self) -> int:
        """Distinct addresses held or reserved."""
        return self.book.used

    def observed_addresses(self) -> int:
        """Distinct addresses held by observed IPAddress objects (reservations excluded)."""
        return len(self.observed)

    def put_fact(self, fact: bodies.AddressFact) -> bodies.AddressFact | None:
        """Record an observed object; returns what was recorded for it before, if anything."""
        before = self.facts.get(fact.identity)
        self.facts[fact.identity] = fact
        if before is None or before.address != fact.address:
            if before is not None:
                self._uncount(before.address)
            self.observed[fact.address] = self.observed.get(fact.address, 0) + 1
        return before

    def pop_fact(self, identity: ledger.ObjectId) -> bodies.AddressFact | None:
        """Forget an observed object; returns what was recorded for it, if anything."""
        fact = self.facts.pop(identity, None)
        if fact is not None:
            self._uncount(fact.address)
        return fact

    def _uncount(self, address: str) -> None:
        left = self.observed[address] - 1
        if left:
            self.observed[address] = left
        else:
            del self.observed[address]

    def held_ledger(self, held: list[bodies.AddressFact]) -> ledger.Ledger:
        """A ledger of ``held``: the facts claims hold (ours, or ours until deleted).

        That is the pool's own ledger whenever it records exactly those objects (no
        reservation, no address kept for a moved claim, every object held): it has one
        holding per object it knows, and every fact is one of them. Otherwise a new one is
        built. The caller only reads it.
        """
        if len(held) == len(self.facts) == len(self.book):
            return self.book
        return ledger.Ledger(fact.holding for fact in held)

    def awaiting(self) -> int:
        """Addresses the pool records as held whose IPAddress objects were not seen (yet).

        A reservation does not count: a moved claim reserves its recorded address before
        clusterctl creates the IPAddress, and that object is what is awaited.
        """
        if self.settled or self.record is None or self.record.counted_here:
            return 0
        recorded = self.record.held_count - self.deleted_seen
        return arrival.pool_awaiting(recorded, self.observed_addresses())

    def keep_moved(self, holding: ledger.Holding) -> None:
        """An address whose IPAddress clusterctl deleted for a move stays taken here.

        Its claim holds it on in the target; handing it out here would give it twice once
        the two clusters' machines meet. It is held under a claim no object can be named
        (so forgetting the moved claim keeps it) and by the object's own identity (so that
        object coming back, a move back, takes its place).
        """
        if holding.identity not in self.facts:
            moved = moved_away_key(holding.claim)
            self.book.add(ledger.Holding(holding.address, moved, holding.object_name))

    def claim_back(self, claim: ledger.ClaimKey, address: str) -> None:
        """A claim moved away came back (a move back) recording ``address``: it is its own."""
        for holding in self.book.holders_of(address):
            if holding.claim == moved_away_key(claim) and holding.identity not in self.facts:
                self.book.remove(holding)

    def reserve(self, holding: ledger.Holding) -> None:
        """Hold an address for a creation on its way, unless its object is already seen."""
        if holding.identity not in self.facts:
            self.book.add(holding)

    def unreserve(self, holding: ledger.Holding) -> None:
        """Take back a reservation; an observed object of that identity is left as it is."""
        if holding.identity not in self.facts:
            self.book.remove(holding)

    def compact(self) -> None:
        """Give back the room of forgotten entries (see :meth:`ledger.Ledger.compact`)."""
        self.book.compact()
        self.facts = dict(self.facts)
        self.observed = dict(self.observed)
        self.seen_at = dict(self.seen_at)
        self.first_unbound = dict(self.first_unbound)
        self.waiting = set(self.waiting)

    def idle(self) -> bool:
        """Nothing worth remembering: no object, no pool, no reservation, nobody waiting."""
        return (
            self.record is None
            and not self.facts
            and not len(self.book)
            and not self.waiting
            and not self.first_unbound
        )


class Registry:
    """Every pool, address and Cluster this process has seen, by key."""

    def __init__(self) -> None:
        self.pools: dict[PoolKey, PoolState] = {}
        self.by_namespace: dict[str, dict[str, PoolState]] = {}
        self.address_pool: dict[tuple[str, ledger.ObjectId], PoolKey] = {}
        self.clusters: dict[tuple[str, str], bodies.ClusterRecord] = {}
        self.claim_writes: dict[ClaimId, str] = {}
        """The resourceVersion our last write to each claim produced."""
        self.moved_away: set[ClaimId] = set()
        """Claims whose IPAddress clusterctl deleted for a move: left alone here."""
        self.reported: dict[ClaimId, str] = {}
        """The last problem announced about a claim (said once, not at every retry)."""
        self.orphans: dict[tuple[str, ledger.ObjectId], float] = {}
        """When each IPAddress of ours was first found without its claim (monotonic)."""
        self.dropped = 0
        """Addresses forgotten since the tables were last compacted (:meth:`compact`)."""

    # --- pools -----------------------------------------------------------------------------

    def pool(self, namespace: str, name: str) -> PoolState:
        key = (namespace, name)
        state = self.pools.get(key)
        if state is None:
            state = self.pools[key] = PoolState(namespace, name)
            self.by_namespace.setdefault(namespace, {})[name] = state
        return state

    def find_pool(self, namespace: str, name: str) -> PoolState | None:
        return self.pools.get((namespace, name))

    def observe_pool(self, record: bodies.PoolRecord) -> PoolState:
        state = self.pool(record.meta.namespace, record.meta.name)
        state.record = record
        return state

    def forget_pool(self, namespace: str, name: str, uid: str) -> PoolState | None:
        """The pool object is gone (an older incarnation never removes a newer one)."""
        state = self.pools.get((namespace, name))
        if state is None or state.record is None:
            return state
        if uid and state.record.meta.uid and state.record.meta.uid != uid:
            return state
        state.record = None
        self.drop_if_idle(state)
        return state

    def drop_if_idle(self, state: PoolState) -> None:
        if state.idle() and self.pools.get(state.key) is state:
            del self.pools[state.key]
            siblings = self.by_namespace.get(state.namespace, {})
            siblings.pop(state.name, None)
            if not siblings:
                self.by_namespace.pop(state.namespace, None)

    def pools_in(self, namespace: str) -> list[PoolState]:
        return [s for s in self.by_namespace.get(namespace, {}).values() if s.record is not None]

    def namespaces(self) -> list[str]:
        return sorted(self.by_namespace)

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

    def name_clashing(self, state: PoolState) -> list[PoolState]:
        """Other pools of the namespace whose IPAddress names can equal this pool's."""
        if state.record is None:
            return []
        mine = state.record.pool
        return [
            other
            for other in self.pools_in(state.namespace)
            if other is not state
            and other.record is not None
            and names.prefix_collisions({"a": mine, "b": other.record.pool})
        ]

    @contextlib.asynccontextmanager
    async def locked(self, states: Iterable[PoolState]) -> AsyncIterator[None]:
        """Hold the locks of several pools, taken in one global order (no deadlock)."""
        async with contextlib.AsyncExitStack() as stack:
            for state in sorted({s.key: s for s in states}.values(), key=lambda s: s.key):
                await stack.enter_async_context(state.lock)
            yield

    # --- addresses -------------------------------------------------------------------------

    def stale_address(self, fact: bodies.AddressFact) -> bool:
        """Whether ``fact`` is older than what is known under its name.

        An IPAddress is named for its address, so a freed address comes back as a new
        object of the same name, and the watch can bring the old object's last events
        after the new one is known (they are queued per object), as can a List answered
        before the old one went: such a reading must never replace the newer one, or the
        new object would be forgotten with the old.
        """
        known = self.fact(fact.kind, fact.namespace, fact.name)
        return known is not None and bodies.older(fact.version, known.version)

    def observe_address(self, fact: bodies.AddressFact) -> PoolState | None:
        """Record an IPAddress as it is now; returns its pool when the ledger changed.

        A reading older than the one known is ignored (:meth:`stale_address`).
        """
        if self.stale_address(fact):
            return None
        key = (fact.namespace, fact.identity)
        previous_pool = self.address_pool.get(key)
        if not fact.pool_name or not fact.address:
            if previous_pool is not None:
                return self._drop(key, previous_pool)
            return None
        pool_key = (fact.namespace, fact.pool_name)
        if previous_pool is not None and previous_pool != pool_key:
            self._drop(key, previous_pool)
        state = self.pool(*pool_key)
        before = state.put_fact(fact)
        now = time.monotonic()
        state.seen_at[fact.identity] = now
        if before is None:
            state.arrived_at = now
        self.address_pool[key] = pool_key
        if before is not None and before.holding == fact.holding:
            return None
        state.book.add(fact.holding)
        return state

    def forget_address(
        self, kind: resources.ClaimKind, namespace: str, name: str, uid: str
    ) -> tuple[PoolState, bodies.AddressFact] | None:
        """Forget an IPAddress that is gone; an older incarnation never removes a newer one."""
        key = (namespace, (kind, name))
        pool_key = self.address_pool.get(key)
        if pool_key is None:
            return None
        state = self.pools[pool_key]
        fact = state.facts.get((kind, name))
        if fact is not None and uid and fact.uid and fact.uid != uid:
            return None
        dropped = self._drop(key, pool_key)
        if dropped is None or fact is None:
            return None
        if not dropped.settled:
            dropped.deleted_seen += 1
        return dropped, fact

    def _drop(self, key: tuple[str, ledger.ObjectId], pool_key: PoolKey) -> PoolState | None:
        self.address_pool.pop(key, None)
        state = self.pools.get(pool_key)
        if state is None:
            return None
        identity = key[1]
        fact = state.pop_fact(identity)
        state.seen_at.pop(identity, None)
        if fact is None:
            return None
        state.book.remove_object(identity)
        self.dropped += 1
        if self.dropped >= max(COMPACT_AFTER, len(self.address_pool)):
            self.compact()
        return state

    def compact(self) -> None:
        """Copy every table at its present size, giving back the room of what was forgotten.

        A dict or set never shrinks when its entries go: without this, the state of 10,000
        released claims would keep their room for good. Called once as many addresses were
        forgotten as are still known (at least :data:`COMPACT_AFTER`), so the copies cost
        a constant share of each forget.
        """
        self.dropped = 0
        self.address_pool = dict(self.address_pool)
        self.claim_writes = dict(self.claim_writes)
        self.reported = dict(self.reported)
        self.orphans = dict(self.orphans)
        self.moved_away = set(self.moved_away)
        for state in self.pools.values():
            state.compact()

    def replace_addresses(
        self,
        kind: resources.ClaimKind,
        namespace: str | None,
        facts: Iterable[bodies.AddressFact],
        *,
        listed_at: float,
    ) -> set[PoolKey]:
        """Align with a fresh List: add what is missing, drop what is gone.

        Objects observed after the List began (``listed_at``, monotonic) are kept even if
        the List does not show them: a watch event newer than the List brought them.
        """
        changed: set[PoolKey] = set()
        present: set[tuple[str, ledger.ObjectId]] = set()
        for fact in facts:
            present.add((fact.namespace, fact.identity))
            state = self.observe_address(fact)
            if state is not None:
                changed.add(state.key)
        for key, pool_key in list(self.address_pool.items()):
            if key[1][0] != kind or (namespace is not None and key[0] != namespace):
                continue
            if key in present:
                continue
            seen = self.pools[pool_key].seen_at.get(key[1], 0.0)
            if seen >= listed_at:
                continue
            state = self._drop(key, pool_key)
            if state is not None:
                changed.add(state.key)
        return changed

    def fact(
        self, kind: resources.ClaimKind, namespace: str, name: str
    ) -> bodies.AddressFact | None:
        pool_key = self.address_pool.get((namespace, (kind, name)))
        if pool_key is None:
            return None
        return self.pools[pool_key].facts.get((kind, name))

    def facts_in(self, namespace: str | None = None) -> Iterator[bodies.AddressFact]:
        for state in self.pools.values():
            if namespace is None or state.namespace == namespace:
                yield from state.facts.values()

    # --- claims ----------------------------------------------------------------------------

    def wrote_claim(self, namespace: str, claim: ledger.ClaimKey, version: str) -> None:
        self.claim_writes[(namespace, claim)] = version

    def stale_claim(self, namespace: str, claim: ledger.ClaimKey, version: str) -> bool:
        """Whether a claim body predates our own last write to it (a newer event will come).

        A body as new as that write means the watch caught up: the write is forgotten, so
        nothing is kept per claim between its changes.
        """
        key = (namespace, claim)
        written = self.claim_writes.get(key)
        if written is None:
            return False
        if bodies.older(version, written):
            return True
        del self.claim_writes[key]
        return False

    def forget_claim(self, namespace: str, claim: ledger.ClaimKey) -> None:
        """The claim is gone: drop everything remembered about it (reservations included)."""
        self.claim_writes.pop((namespace, claim), None)
        self.moved_away.discard((namespace, claim))
        self.reported.pop((namespace, claim), None)
        for state in list(self.by_namespace.get(namespace, {}).values()):
            state.waiting.discard(claim)
            state.first_unbound.pop(claim, None)
            for holding in state.book.holdings_of(claim):
                if holding.identity not in state.facts:
                    state.book.remove(holding)
            self.drop_if_idle(state)

    # --- clusters --------------------------------------------------------------------------

    def observe_cluster(self, record: bodies.ClusterRecord) -> bool:
        """Record a Cluster; True when it is new or its paused flag changed."""
        previous = self.clusters.get(record.meta.key)
        self.clusters[record.meta.key] = record
        return previous is None or previous.paused != record.paused

    def forget_cluster(self, namespace: str, name: str) -> None:
        self.clusters.pop((namespace, name), None)

    def cluster(self, namespace: str, name: str) -> bodies.ClusterRecord | None:
        return self.clusters.get((namespace, name))
