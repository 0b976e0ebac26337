"""Who holds which address of one pool: a projection of the IPAddress objects of both kinds.

One ledger per pool covers Metal3 and CAPI claims alike, so the two kinds can never be given
the same address by two separate views. The ledger never decides anything: it records what
the IPAddress objects say, one holding per object, including the anomalies (two claims on
one address, one claim on two addresses, two objects recording the same claim and address),
which :meth:`Ledger.conflicts` and :meth:`Ledger.claims_holding_several` report instead of
hiding by overwriting.

A holding is identified by its object (the claim kind, which is also the IPAddress kind, and
the object's name), never by its address or claim: forgetting one of two objects that share
an address and a claim leaves the other one, and the address, held.

Used addresses are also kept as an :class:`~ipam.core.ranges.IntervalSet` of keys, so the
allocator finds the next free address in O(log n) and memory grows with the number of
holdings, never with the size of the pool.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from ipam.core import addresses, ranges

ClaimKind = Literal["metal3", "capi"]
METAL3: ClaimKind = "metal3"
CAPI: ClaimKind = "capi"

_K = TypeVar("_K")

ObjectId = tuple[ClaimKind, str]
"""An IPAddress object: its kind (the kind of its claim) and its name."""


@dataclass(frozen=True, order=True, slots=True)
class ClaimKey:
    """A claim of either kind, by name (claims are always in the pool's namespace)."""

    kind: ClaimKind
    name: str


@dataclass(frozen=True, slots=True)
class Holding:
    """One IPAddress object: its address (canonical text), its claim and its own name."""

    address: str
    claim: ClaimKey
    object_name: str
    identity: ObjectId = field(init=False, compare=False, repr=False)
    """The object this holding stands for: two holdings of one object are one holding.

    Made once, so that every table keyed by the object shares one tuple (a ledger holds
    one holding per IPAddress, and the tables of the process key the same objects)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "identity", (self.claim.kind, self.object_name))


class Ledger:
    """The holdings of one pool, one per IPAddress object, indexed by address and by claim."""

    __slots__ = (
        "_by_address",
        "_by_claim",
        "_more_by_address",
        "_more_by_claim",
        "_objects",
        "_used",
    )

    def __init__(self, holdings: Iterable[Holding] = ()) -> None:
        self._objects: dict[ObjectId, Holding] = {}
        self._by_address: dict[str, Holding] = {}
        self._by_claim: dict[ClaimKey, Holding] = {}
        # The anomalies: further holdings of an address, further holdings of a claim.
        self._more_by_address: dict[str, list[Holding]] = {}
        self._more_by_claim: dict[ClaimKey, list[Holding]] = {}
        self._used = ranges.IntervalSet()
        for holding in holdings:
            self.add(holding)

    # -- reading ---------------------------------------------------------------------------

    @property
    def used(self) -> int:
        """How many distinct addresses are held."""
        return len(self._by_address)

    @property
    def used_keys(self) -> ranges.IntervalSet:
        """Keys of the held addresses that parse. Read-only: do not mutate."""
        return self._used

    def held_by(self, claim: ClaimKey) -> Holding | None:
        """The address recorded for ``claim`` (the first one seen, if it holds several)."""
        return self._by_claim.get(claim)

    def holdings_of(self, claim: ClaimKey) -> list[Holding]:
        """Every holding of ``claim``, the first one seen first."""
        first = self._by_claim.get(claim)
        return [] if first is None else [first, *self._more_by_claim.get(claim, ())]

    def holder_of(self, address: str) -> Holding | None:
        """The holding of ``address`` (the first one seen, if several objects hold it)."""
        return self._by_address.get(_normal(address))

    def holders_of(self, address: str) -> list[Holding]:
        """Every holding of ``address``, the first one seen first."""
        key = _normal(address)
        first = self._by_address.get(key)
        return [] if first is None else [first, *self._more_by_address.get(key, ())]

    def is_used(self, address: str) -> bool:
        """Whether some object holds ``address`` (compared by value, not by spelling)."""
        return _normal(address) in self._by_address

    def holdings(self) -> Iterator[Holding]:
        """Every holding, anomalies included."""
        for address, holding in self._by_address.items():
            yield holding
            yield from self._more_by_address.get(address, ())

    def __len__(self) -> int:
        """How many holdings (IPAddress objects) the ledger records."""
        return len(self._objects)

    def conflicts(self) -> list[tuple[Holding, Holding]]:
        """Pairs (first holder, other holder) of every address held for two different claims."""
        return [
            (self._by_address[address], other)
            for address, others in self._more_by_address.items()
            for other in others
            if other.claim != self._by_address[address].claim
        ]

    def claims_holding_several(self) -> list[tuple[Holding, Holding]]:
        """Pairs (first holding, other holding) of every claim recorded by several objects."""
        return [
            (self._by_claim[claim], other)
            for claim, others in self._more_by_claim.items()
            for other in others
        ]

    # -- editing ---------------------------------------------------------------------------

    def add(self, holding: Holding) -> None:
        """Record ``holding``; recording one object again replaces what it said before."""
        holding = self._normalised(holding)
        address = holding.address
        value = addresses.key_of(address)
        previous = self._objects.get(holding.identity)
        if previous == holding:
            return
        if previous is not None:
            self.remove_object(previous.identity)
        self._objects[holding.identity] = holding
        if value is not None and address not in self._by_address:
            self._used.add(value)
        _put(self._by_address, self._more_by_address, address, holding)
        _put(self._by_claim, self._more_by_claim, holding.claim, holding)

    def remove(self, holding: Holding) -> None:
        """Forget ``holding`` if its object still records exactly that; else change nothing."""
        recorded = self._objects.get(holding.identity)
        if recorded is not None and recorded == self._normalised(holding):
            self.remove_object(holding.identity)

    def remove_object(self, identity: ObjectId) -> Holding | None:
        """Forget an object by its identity; return what it held, or None if unknown."""
        recorded = self._objects.pop(identity, None)
        if recorded is None:
            return None
        address = recorded.address
        _drop(self._by_address, self._more_by_address, address, identity)
        _drop(self._by_claim, self._more_by_claim, recorded.claim, identity)
        if address not in self._by_address:
            value = addresses.key_of(address)
            if value is not None:
                self._used.remove(value)
        return recorded

    def compact(self) -> None:
        """Give back the room of forgotten holdings.

        A dict keeps the table of the largest size it ever had when its entries go, so a
        pool that held 10,000 addresses would keep their room after they are released.
        The indexes are copied at their present size (same contents).
        """
        self._objects = dict(self._objects)
        self._by_address = dict(self._by_address)
        self._by_claim = dict(self._by_claim)
        self._more_by_address = dict(self._more_by_address)
        self._more_by_claim = dict(self._more_by_claim)

    def object(self, identity: ObjectId) -> Holding | None:
        """What the object ``identity`` holds, if it is recorded."""
        return self._objects.get(identity)

    def release(self, claim: ClaimKey) -> list[Holding]:
        """Forget every object of ``claim``; return what was released."""
        released = self.holdings_of(claim)
        for holding in released:
            self.remove(holding)
        return released

    @staticmethod
    def _normalised(holding: Holding) -> Holding:
        address = _normal(holding.address)
        return holding if address == holding.address else replace(holding, address=address)

    def copy(self) -> Ledger:
        """An independent copy (holdings are immutable and shared)."""
        return Ledger(self.holdings())


def _normal(address: str) -> str:
    return addresses.canonical_text(address) or address


def _put(
    first: dict[_K, Holding], more: dict[_K, list[Holding]], key: _K, holding: Holding
) -> None:
    """Record ``holding`` under ``key``: the first holding, else one more."""
    if key not in first:
        first[key] = holding
    else:
        more.setdefault(key, []).append(holding)


def _drop(
    first: dict[_K, Holding], more: dict[_K, list[Holding]], key: _K, identity: ObjectId
) -> Holding | None:
    """Remove the holding of ``identity`` under ``key`` (the next one moves up); return it."""
    current = first.get(key)
    if current is None:
        return None
    others = more.get(key, [])
    removed: Holding | None = None
    if current.identity == identity:
        removed = current
        if others:
            first[key] = others.pop(0)
        else:
            del first[key]
    else:
        for at, other in enumerate(others):
            if other.identity == identity:
                removed = others.pop(at)
                break
    if key in more and not more[key]:
        del more[key]
    return removed
