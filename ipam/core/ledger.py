"""Who holds which address of one pool: a projection of the IPAddress objects of both kinds.

One ledger per pool covers Metal3 and CAPI claims alike, so the two kinds can never be given
the same address by two separate views. The ledger never decides anything: it records what
the IPAddress objects say, including the anomalies (two claims on one address, one claim on
two addresses), which :meth:`Ledger.conflicts` reports instead of hiding by overwriting.

Used addresses are also kept as an :class:`~ipam.core.ranges.IntervalSet` of keys, so the
allocator finds the next free address in O(log n) and memory grows with the number of
holdings, never with the size of the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from ipam.core import addresses, ranges

ClaimKind = Literal["metal3", "capi"]
METAL3: ClaimKind = "metal3"
CAPI: ClaimKind = "capi"

_K = TypeVar("_K")
_T = TypeVar("_T")


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


class Ledger:
    """The holdings of one pool, indexed by address and by claim."""

    __slots__ = ("_by_address", "_by_claim", "_more_by_address", "_more_by_claim", "_used")

    def __init__(self, holdings: Iterable[Holding] = ()) -> None:
        self._by_address: dict[str, Holding] = {}
        self._by_claim: dict[ClaimKey, Holding] = {}
        # The anomalies: further holders of an address, further addresses of a claim.
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

    def holder_of(self, address: str) -> Holding | None:
        """The holding of ``address`` (the first one seen, if several claims hold it)."""
        return self._by_address.get(_normal(address))

    def is_used(self, address: str) -> bool:
        """Whether some claim holds ``address`` (compared by value, not by spelling)."""
        return _normal(address) in self._by_address

    def holdings(self) -> Iterator[Holding]:
        """Every holding, conflicting ones included."""
        for address, holding in self._by_address.items():
            yield holding
            yield from self._more_by_address.get(address, ())

    def __len__(self) -> int:
        """How many holdings (IPAddress objects) the ledger records."""
        return len(self._by_address) + sum(map(len, self._more_by_address.values()))

    def conflicts(self) -> list[tuple[Holding, Holding]]:
        """Pairs (first holder, other holder) of every address held by more than one claim."""
        return [
            (self._by_address[address], other)
            for address, others in self._more_by_address.items()
            for other in others
        ]

    def claims_holding_several(self) -> list[tuple[Holding, Holding]]:
        """Pairs (first holding, other holding) of every claim that holds several addresses."""
        return [
            (self._by_claim[claim], other)
            for claim, others in self._more_by_claim.items()
            for other in others
        ]

    # -- editing ---------------------------------------------------------------------------

    def add(self, holding: Holding) -> None:
        """Record ``holding``; recording the same one again changes nothing."""
        value = addresses.key_of(holding.address)
        address = holding.address if value is None else addresses.text_of(value)
        if address != holding.address:
            holding = replace(holding, address=address)
        if value is not None and address not in self._by_address:
            self._used.add(value)
        _put(self._by_address, self._more_by_address, address, holding, _claim_of)
        _put(self._by_claim, self._more_by_claim, holding.claim, holding, _address_of)

    def remove(self, address: str, claim: ClaimKey) -> None:
        """Forget that ``claim`` holds ``address``; unknown pairs are ignored."""
        address = _normal(address)
        _drop(self._by_address, self._more_by_address, address, lambda h: h.claim == claim)
        _drop(self._by_claim, self._more_by_claim, claim, lambda h: h.address == address)
        if address not in self._by_address:
            value = addresses.key_of(address)
            if value is not None:
                self._used.remove(value)

    def release(self, claim: ClaimKey) -> list[Holding]:
        """Forget every address ``claim`` holds; return what was released."""
        released = [h for h in (self._by_claim.get(claim),) if h is not None]
        released += self._more_by_claim.get(claim, [])
        for holding in released:
            self.remove(holding.address, claim)
        return released

    def copy(self) -> Ledger:
        """An independent copy (holdings are immutable and shared)."""
        return Ledger(self.holdings())


def _claim_of(holding: Holding) -> ClaimKey:
    return holding.claim


def _address_of(holding: Holding) -> str:
    return holding.address


def _normal(address: str) -> str:
    return addresses.canonical_text(address) or address


def _put(
    first: dict[_K, Holding],
    more: dict[_K, list[Holding]],
    key: _K,
    holding: Holding,
    identity: Callable[[Holding], _T],
) -> None:
    """Record ``holding`` under ``key``: first holder, else replace a same-identity one."""
    current = first.get(key)
    if current is None or identity(current) == identity(holding):
        first[key] = holding
        return
    others = more.setdefault(key, [])
    for at, other in enumerate(others):
        if identity(other) == identity(holding):
            others[at] = holding
            return
    others.append(holding)


def _drop(
    first: dict[_K, Holding],
    more: dict[_K, list[Holding]],
    key: _K,
    matches: Callable[[Holding], bool],
) -> None:
    """Remove the matching holding under ``key``, promoting the next one when it was first."""
    current = first.get(key)
    if current is None:
        return
    others = more.get(key, [])
    if matches(current):
        if others:
            first[key] = others.pop(0)
        else:
            del first[key]
    else:
        others[:] = [other for other in others if not matches(other)]
    if key in more and not more[key]:
        del more[key]
