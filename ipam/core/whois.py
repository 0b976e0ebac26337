"""Who holds an address and what a claim holds: lookups over IPAddress facts, by value, both kinds.

An address is compared by value, not by spelling (``fd00::0:1`` finds ``fd00::1``). A claim
is looked up by name among both claim kinds, since a Metal3 IPClaim and a Cluster API
IPAddressClaim may share a name. The answer also says what is true when nothing matches:
which pools produce a free address (and whom it is pre-allocated to), and which claims of
that name exist without holding anything (with their error).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ipam.core import addresses, ledger, pools

CLAIM_KINDS: dict[ledger.ClaimKind, str] = {ledger.METAL3: "IPClaim", ledger.CAPI: "IPAddressClaim"}


@dataclass(frozen=True)
class Held:
    """One IPAddress object: which claim holds which address from which pool, since when."""

    namespace: str
    pool: str
    address: str
    claim_kind: ledger.ClaimKind
    claim: str
    object_name: str
    since: str

    @property
    def claim_ref(self) -> str:
        """``IPClaim/name`` or ``IPAddressClaim/name``."""
        return f"{CLAIM_KINDS[self.claim_kind]}/{self.claim}"


@dataclass(frozen=True)
class Claim:
    """A claim of either kind: which pool it names and the error it reports, if any."""

    namespace: str
    kind: ledger.ClaimKind
    name: str
    pool: str
    error: str

    @property
    def ref(self) -> str:
        return f"{CLAIM_KINDS[self.kind]}/{self.name}"


@dataclass(frozen=True)
class NamedPool:
    namespace: str
    name: str
    pool: pools.Pool


@dataclass(frozen=True)
class Producer:
    """A pool whose ranges produce the queried address, and the claims it is pre-allocated to."""

    namespace: str
    name: str
    reserved_for: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """What a query found. ``address`` is the canonical address when the query was one."""

    query: str
    address: str | None
    held: tuple[Held, ...]
    claims: tuple[Claim, ...]
    producers: tuple[Producer, ...]

    @property
    def found(self) -> bool:
        """Whether anything holds the address, or any claim of that name exists."""
        return bool(self.held) or bool(self.claims)

    @property
    def idle_claims(self) -> tuple[Claim, ...]:
        """Claims of the queried name that hold no address."""
        holding = {(h.namespace, h.claim_kind, h.claim) for h in self.held}
        return tuple(c for c in self.claims if (c.namespace, c.kind, c.name) not in holding)


def lookup(
    query: str, held: Iterable[Held], claims: Iterable[Claim], named_pools: Iterable[NamedPool]
) -> Answer:
    """Answer ``query``: an IP address (either family, any spelling), else a claim name."""
    key = addresses.key_of(query)
    if key is not None:
        return _by_address(query, key, held, named_pools)
    return _by_claim(query, held, claims)


def _by_address(
    query: str, key: int, held: Iterable[Held], named_pools: Iterable[NamedPool]
) -> Answer:
    found = sorted(
        (h for h in held if addresses.key_of(h.address) == key),
        key=lambda h: (h.namespace, h.since, h.object_name),
    )
    producers = sorted(
        (
            Producer(p.namespace, p.name, p.pool.reserved_for(key))
            for p in named_pools
            if p.pool.contains_key(key)
        ),
        key=lambda p: (p.namespace, p.name),
    )
    return Answer(query, addresses.text_of(key), tuple(found), (), tuple(producers))


def _by_claim(query: str, held: Iterable[Held], claims: Iterable[Claim]) -> Answer:
    found = sorted(
        (h for h in held if h.claim == query),
        key=lambda h: (h.namespace, h.claim_kind != ledger.METAL3, h.since, h.object_name),
    )
    named = sorted(
        (c for c in claims if c.name == query),
        key=lambda c: (c.namespace, c.kind != ledger.METAL3),
    )
    return Answer(query, None, tuple(found), tuple(named), ())
