"""What must hold in every namespace after every scenario, checked on plain dicts.

=============================  ===========================================================
name                           rule
=============================  ===========================================================
no-duplicate-addresses         no IP is held by two address objects (both kinds, all pools)
bound-claims-have-addresses    a bound claim's address object exists and names that claim
no-orphan-addresses            every address object's claim exists
addresses-inside-pools         every address lies in the ranges of the pool it names
allocations-carry-finalizers   every address object of our pools carries our address
                               finalizer, and every claim an address object names carries
                               our claim finalizer (else a deletion could leak it)
=============================  ===========================================================

Each check returns its problems as sentences; none means it holds. Nothing here asks the
controller's code: addresses are compared as :mod:`ipaddress` values (``fd00::a`` and
``fd00:0:0:0:0:0:0:A`` are one address) and pools are read by :mod:`pool_spec`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from e2e.scenario import pool_spec
from e2e.scenario.allocations import (
    CAPI_ADDRESS,
    CAPI_CLAIM,
    METAL3_ADDRESS,
    METAL3_CLAIM,
    POOL,
    Ledger,
    Obj,
    capi_bound_to,
    dig,
    metal3_bound_to,
    name,
)

METAL3_GROUP = "ipam.metal3.io"
METAL3_ADDRESS_FINALIZER = "ipaddress.ipam.metal3.io"
METAL3_CLAIM_FINALIZER = "ipclaim.ipam.metal3.io"
CAPI_ADDRESS_FINALIZER = "ipam.metal3.io/ipaddress"
CAPI_CLAIM_FINALIZER = "ipam.metal3.io/ipaddressclaim"
Check = Callable[[Ledger], list[str]]


def _key(text: object) -> object:
    """One key per address, whatever way it is written; unreadable text stays as it is."""
    address = pool_spec.parse_address(text)
    return text if address is None else address


def _addresses(ledger: Ledger) -> Iterable[tuple[str, Obj]]:
    for address in ledger.metal3_addresses:
        yield f"{METAL3_ADDRESS} {name(address)}", address
    for address in ledger.capi_addresses:
        yield f"{CAPI_ADDRESS} {name(address)}", address


def no_duplicate_addresses(ledger: Ledger) -> list[str]:
    holders: dict[object, list[str]] = defaultdict(list)
    texts: dict[object, str] = {}
    for label, address in _addresses(ledger):
        ip = dig(address, "spec", "address")
        if ip is None:
            continue
        holders[_key(ip)].append(label)
        texts.setdefault(_key(ip), str(ip))
    return [
        f"{texts[key]} is held {len(labels)} times: {', '.join(labels)}"
        for key, labels in holders.items()
        if len(labels) > 1
    ]


def bound_claims_have_addresses(ledger: Ledger) -> list[str]:
    problems: list[str] = []
    metal3 = {name(a): a for a in ledger.metal3_addresses}
    capi = {name(a): a for a in ledger.capi_addresses}
    for claim in ledger.metal3_claims:
        bound = metal3_bound_to(claim)
        if bound is not None:
            problems += _points_back(METAL3_CLAIM.kind, claim, bound, metal3, "claim")
    for claim in ledger.capi_claims:
        bound = capi_bound_to(claim)
        if bound is not None:
            problems += _points_back(CAPI_CLAIM.kind, claim, bound, capi, "claimRef")
    return problems


def _points_back(
    kind: str, claim: Obj, bound: str, addresses: dict[str, Obj], ref: str
) -> list[str]:
    label = f"{kind} {name(claim)} is bound to {bound}"
    if bound not in addresses:
        return [f"{label}, which does not exist"]
    names = dig(addresses[bound], "spec", ref, "name")
    if names != name(claim):
        return [f"{label}, whose spec.{ref}.name is {names!r}"]
    return []


def no_orphan_addresses(ledger: Ledger) -> list[str]:
    problems: list[str] = []
    metal3_claims = {name(c) for c in ledger.metal3_claims}
    capi_claims = {name(c) for c in ledger.capi_claims}
    for address in ledger.metal3_addresses:
        claim = dig(address, "spec", "claim", "name")
        if claim not in metal3_claims:
            problems.append(
                f"{METAL3_ADDRESS} {name(address)}: its IPClaim {claim!r} does not exist"
            )
    for address in ledger.capi_addresses:
        claim = dig(address, "spec", "claimRef", "name")
        if claim not in capi_claims:
            problems.append(
                f"{CAPI_ADDRESS} {name(address)}: its IPAddressClaim {claim!r} does not exist"
            )
    return problems


def addresses_inside_pools(ledger: Ledger) -> list[str]:
    pools = {name(p): pool_spec.pool_ranges(p.get("spec") or {}) for p in ledger.pools}
    problems: list[str] = []
    for label, address in _addresses(ledger):
        pool = _pool_name(address)
        if pool is None:
            continue
        ip = dig(address, "spec", "address")
        if pool not in pools:
            problems.append(f"{label} ({ip}): its {POOL.kind} {pool!r} does not exist")
        elif not pool_spec.contains(pools[pool], ip):
            problems.append(f"{label}: {ip} is outside {POOL.kind} {pool}")
    return problems


def allocations_carry_finalizers(ledger: Ledger) -> list[str]:
    """Addresses of our pools and the claims they name carry our finalizers."""
    problems: list[str] = []
    held: dict[str, set[str]] = {METAL3_CLAIM.kind: set(), CAPI_CLAIM.kind: set()}
    for address in ledger.metal3_addresses:
        held[METAL3_CLAIM.kind].add(str(dig(address, "spec", "claim", "name")))
        problems += _lacks(f"{METAL3_ADDRESS} {name(address)}", address, METAL3_ADDRESS_FINALIZER)
    for address in ledger.capi_addresses:
        if _pool_name(address) is None:
            continue  # another provider's address
        held[CAPI_CLAIM.kind].add(str(dig(address, "spec", "claimRef", "name")))
        problems += _lacks(f"{CAPI_ADDRESS} {name(address)}", address, CAPI_ADDRESS_FINALIZER)
    for claim in ledger.metal3_claims:
        if name(claim) in held[METAL3_CLAIM.kind]:
            label = f"{METAL3_CLAIM.kind} {name(claim)} (it holds an address)"
            problems += _lacks(label, claim, METAL3_CLAIM_FINALIZER)
    for claim in ledger.capi_claims:
        if name(claim) in held[CAPI_CLAIM.kind]:
            label = f"{CAPI_CLAIM.kind} {name(claim)} (it holds an address)"
            problems += _lacks(label, claim, CAPI_CLAIM_FINALIZER)
    return problems


def _lacks(label: str, obj: Obj, finalizer: str) -> list[str]:
    finalizers = dig(obj, "metadata", "finalizers") or []
    return [] if finalizer in finalizers else [f"{label} lacks the finalizer {finalizer}"]


def _pool_name(address: Obj) -> str | None:
    """The Metal3 pool an address names; None for a CAPI address of another provider."""
    if dig(address, "spec", "pool") is not None:
        found = dig(address, "spec", "pool", "name")
        return None if found is None else str(found)
    ref = dig(address, "spec", "poolRef") or {}
    if ref.get("apiGroup") == METAL3_GROUP and ref.get("kind") == POOL.kind:
        return str(ref.get("name"))
    return None


CHECKS: dict[str, Check] = {
    "no-duplicate-addresses": no_duplicate_addresses,
    "bound-claims-have-addresses": bound_claims_have_addresses,
    "no-orphan-addresses": no_orphan_addresses,
    "addresses-inside-pools": addresses_inside_pools,
    "allocations-carry-finalizers": allocations_carry_finalizers,
}


def check(ledger: Ledger, names: Iterable[str]) -> dict[str, list[str]]:
    """Problems by invariant name, only for the invariants that fail."""
    failed: dict[str, list[str]] = {}
    for invariant in names:
        found = CHECKS[invariant](ledger)
        if found:
            failed[invariant] = found
    return failed
