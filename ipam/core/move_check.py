"""What ``clusterctl move`` would lose, found before it runs: one rule per way of losing something.

- ``stays-behind``: a pool, claim or IPAddress that clusterctl would not move (see
  :mod:`ipam.core.move_graph`); on the target its allocation is gone, and a pool left
  behind takes every address it owns with it.
- ``orphaned-address``: an IPAddress whose claim (or pool) no longer exists. Its owner
  reference points at nothing, so it stays behind, and the address it holds is leaked.
- ``duplicate-address``: one address held by more than one claim of a namespace. The
  controller keeps the oldest holding, but a move gives every object a new creation time,
  so which claim keeps the address after the move is chance.
- ``claim-holds-several``: one claim with more than one IPAddress; the same chance
  decides which one it keeps after the move.
- ``foreign-finalizer``: a claim carrying a finalizer that is neither ours nor Kubernetes'.
  clusterctl copies it to the target, where only that other controller can remove it: the
  claim cannot be deleted there without it, and a second IPAM provider serving the same
  claim may hand out a conflicting address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ipam.core import addresses, ledger, move_graph, whois

STAYS_BEHIND = "stays-behind"
ORPHANED = "orphaned-address"
DUPLICATE = "duplicate-address"
SEVERAL = "claim-holds-several"
FOREIGN_FINALIZER = "foreign-finalizer"
CODES = (STAYS_BEHIND, ORPHANED, DUPLICATE, SEVERAL, FOREIGN_FINALIZER)
TITLES = {
    STAYS_BEHIND: "clusterctl move would leave these behind",
    ORPHANED: "addresses whose claim or pool is gone",
    DUPLICATE: "addresses held by more than one claim",
    SEVERAL: "claims holding more than one address",
    FOREIGN_FINALIZER: "claims carrying another controller's finalizer",
}

KIND_ORDER = {"IPPool": 0, "IPClaim": 1, "IPAddressClaim": 1, "IPAddress": 2}
"""Pools, then claims, then addresses: causes are listed before what follows from them."""
KUBERNETES_FINALIZERS = frozenset({"foregroundDeletion", "orphan"})


@dataclass(frozen=True)
class Object:
    """Identity of one of our objects: kind and group as the API names them."""

    group: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def ref(self) -> str:
        """``kind.group/name``, as kubectl accepts it (``kubectl get ipclaim.ipam.metal3.io/x``)."""
        return f"{self.kind.lower()}.{self.group}/{self.name}"


@dataclass(frozen=True)
class Claim:
    """A claim of either kind; ``ours`` when it names one of our pools."""

    object: Object
    claim_kind: ledger.ClaimKind
    pool: str
    ours: bool
    finalizers: tuple[str, ...]
    our_finalizer: str


@dataclass(frozen=True)
class Address:
    """One of our IPAddress objects (either kind)."""

    object: Object
    claim_kind: ledger.ClaimKind
    pool: str
    claim: str
    address: str


@dataclass(frozen=True)
class Finding:
    """One thing that would be lost, about one object; ``cause`` refines ``stays-behind``.

    ``remedy`` is a command that fixes it, where one command does.
    """

    code: str
    object: Object
    message: str
    cause: str = ""
    remedy: str = ""


def check(
    pools: Sequence[Object],
    claims: Sequence[Claim],
    held: Sequence[Address],
    graph: move_graph.Graph,
) -> list[Finding]:
    """Every finding about the pools, our claims and our addresses, in a stable order."""
    findings = [
        *_stays_behind(
            [*pools, *(c.object for c in claims if c.ours), *(a.object for a in held)], graph
        ),
        *_orphans(pools, claims, held),
        *_duplicates(held),
        *_several(held),
        *_foreign_finalizers(claims),
    ]
    order = {code: at for at, code in enumerate(CODES)}
    return sorted(
        findings,
        key=lambda f: (
            order[f.code],
            f.object.namespace,
            KIND_ORDER.get(f.object.kind, len(KIND_ORDER)),
            f.object.group,
            f.object.name,
        ),
    )


def _stays_behind(objects: Iterable[Object], graph: move_graph.Graph) -> list[Finding]:
    found = []
    for obj in objects:
        verdict = graph.verdict(obj.uid)
        if not verdict.moves:
            remedy = ""
            if verdict.cause == move_graph.NOT_COVERED:
                label = f"{move_graph.MOVE_LABEL}="
                remedy = f"kubectl label -n {obj.namespace} {obj.ref} {label}"
            found.append(Finding(STAYS_BEHIND, obj, verdict.detail, verdict.cause, remedy))
    return found


def _orphans(
    pools: Sequence[Object], claims: Sequence[Claim], held: Sequence[Address]
) -> list[Finding]:
    pool_names = {(p.namespace, p.name) for p in pools}
    claim_names = {(c.object.namespace, c.claim_kind, c.object.name) for c in claims}
    found = []
    for address in held:
        namespace = address.object.namespace
        kind = whois.CLAIM_KINDS[address.claim_kind]
        if (namespace, address.claim_kind, address.claim) not in claim_names:
            message = f"its {kind} {address.claim} no longer exists: {address.address} is leaked"
            remedy = f"kubectl delete -n {namespace} {address.object.ref}"
            found.append(Finding(ORPHANED, address.object, message, remedy=remedy))
        elif (namespace, address.pool) not in pool_names:
            message = f"its IPPool {address.pool} no longer exists"
            found.append(Finding(ORPHANED, address.object, message))
    return found


def _duplicates(held: Sequence[Address]) -> list[Finding]:
    by_value: dict[tuple[str, int], list[Address]] = {}
    for address in held:
        value = addresses.key_of(address.address)
        if value is not None:
            by_value.setdefault((address.object.namespace, value), []).append(address)
    found = []
    for group in by_value.values():
        holders = {(a.claim_kind, a.claim) for a in group}
        if len(holders) < 2:
            continue
        for address in group:
            others = ", ".join(
                f"{_claim_ref(o)} (pool {o.pool}, {o.object.name})"
                for o in group
                if o is not address
            )
            message = f"{address.address} is also held by {others}"
            found.append(Finding(DUPLICATE, address.object, message))
    return found


def _several(held: Sequence[Address]) -> list[Finding]:
    by_claim: dict[tuple[str, ledger.ClaimKind, str], list[Address]] = {}
    for address in held:
        key = (address.object.namespace, address.claim_kind, address.claim)
        by_claim.setdefault(key, []).append(address)
    found = []
    for group in by_claim.values():
        if len({a.address for a in group}) < 2:
            continue
        for address in group:
            others = ", ".join(f"{o.address} ({o.object.name})" for o in group if o is not address)
            message = f"{_claim_ref(address)} also holds {others}"
            found.append(Finding(SEVERAL, address.object, message))
    return found


def _foreign_finalizers(claims: Sequence[Claim]) -> list[Finding]:
    found = []
    for claim in claims:
        if not claim.ours:
            continue
        foreign = [
            f
            for f in claim.finalizers
            if f != claim.our_finalizer and f not in KUBERNETES_FINALIZERS
        ]
        if foreign:
            message = (
                f"finalizer {', '.join(foreign)} is not this provider's: clusterctl copies it, "
                "and only its own controller can remove it on the target"
            )
            found.append(Finding(FOREIGN_FINALIZER, claim.object, message))
    return found


def _claim_ref(address: Address) -> str:
    return f"{whois.CLAIM_KINDS[address.claim_kind]} {address.claim}"


def summary(findings: Sequence[Finding]) -> Mapping[str, int]:
    """How many findings of each code (every code present, zeros included)."""
    return {code: sum(1 for f in findings if f.code == code) for code in CODES}
