"""Who holds which address, read from the objects themselves: ledger and snapshot.

A snapshot maps every claim of both kinds to the address it is bound to, and every
address object of both kinds to its spec. It is built from whatever exists, so before
the controller (or even its CRDs) exists it is simply empty, and two empty snapshots are
equal. A scenario with several namespaces snapshots all of them; the keys of the second
and later are prefixed with their template name (``namespace2/IPClaim/a``), which is the
same in every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from e2e.scenario.kube import ObjectClient
from e2e.scenario.manifests import Kind

POOL = Kind("ipam.metal3.io/v1alpha1", "IPPool")
METAL3_CLAIM = Kind("ipam.metal3.io/v1alpha1", "IPClaim")
METAL3_ADDRESS = Kind("ipam.metal3.io/v1alpha1", "IPAddress")
CAPI_CLAIM = Kind("ipam.cluster.x-k8s.io/v1beta2", "IPAddressClaim")
CAPI_ADDRESS = Kind("ipam.cluster.x-k8s.io/v1beta2", "IPAddress")
IPAM_KINDS = (POOL, METAL3_CLAIM, METAL3_ADDRESS, CAPI_CLAIM, CAPI_ADDRESS)

Obj = dict[str, Any]


@dataclass(frozen=True)
class Ledger:
    """Every IPAM object of one namespace in one cluster."""

    pools: list[Obj] = field(default_factory=list)
    metal3_claims: list[Obj] = field(default_factory=list)
    metal3_addresses: list[Obj] = field(default_factory=list)
    capi_claims: list[Obj] = field(default_factory=list)
    capi_addresses: list[Obj] = field(default_factory=list)


def read_ledger(client: ObjectClient, namespace: str) -> Ledger:
    def read(kind: Kind) -> list[Obj]:
        return client.list(kind, namespace, missing_kind_ok=True)

    return Ledger(
        pools=read(POOL),
        metal3_claims=read(METAL3_CLAIM),
        metal3_addresses=read(METAL3_ADDRESS),
        capi_claims=read(CAPI_CLAIM),
        capi_addresses=read(CAPI_ADDRESS),
    )


def name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` or None when any step is missing."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def metal3_bound_to(claim: Obj) -> str | None:
    """The Metal3 IPAddress name a Metal3 claim is bound to."""
    found = dig(claim, "status", "address", "name")
    return str(found) if found else None


def capi_bound_to(claim: Obj) -> str | None:
    """The CAPI IPAddress name a CAPI claim is bound to."""
    found = dig(claim, "status", "addressRef", "name")
    return str(found) if found else None


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Claim -> address for both claim kinds, and each address object's spec."""
    metal3 = {name(a): a for a in ledger.metal3_addresses}
    capi = {name(a): a for a in ledger.capi_addresses}
    claims: dict[str, Any] = {}
    for claim in ledger.metal3_claims:
        claims[f"IPClaim/{name(claim)}"] = _address_of(metal3_bound_to(claim), metal3)
    for claim in ledger.capi_claims:
        claims[f"IPAddressClaim/{name(claim)}"] = _address_of(capi_bound_to(claim), capi)
    addresses: dict[str, Any] = {}
    for address in ledger.metal3_addresses:
        addresses[f"{METAL3_ADDRESS}/{name(address)}"] = address.get("spec") or {}
    for address in ledger.capi_addresses:
        addresses[f"{CAPI_ADDRESS}/{name(address)}"] = address.get("spec") or {}
    return {"claims": claims, "addresses": addresses}


def in_flight(ledger: Ledger) -> list[str]:
    """Claims an address object of their kind names while their status names no address.

    A controller creates the address object first and writes the claim's status next, so
    for a moment the allocation exists and the claim does not show it yet.
    """
    found: list[str] = []
    pairs = (
        (METAL3_CLAIM, ledger.metal3_claims, metal3_bound_to, METAL3_ADDRESS, "claim"),
        (CAPI_CLAIM, ledger.capi_claims, capi_bound_to, CAPI_ADDRESS, "claimRef"),
    )
    objects = {METAL3_ADDRESS: ledger.metal3_addresses, CAPI_ADDRESS: ledger.capi_addresses}
    for claim_kind, claims, bound_to, address_kind, ref in pairs:
        unbound = {name(c) for c in claims if bound_to(c) is None}
        for address in objects[address_kind]:
            claim = dig(address, "spec", ref, "name")
            if claim in unbound:
                found.append(
                    f"{claim_kind.kind} {claim} is named by {address_kind.kind} {name(address)} "
                    "but its status names no address"
                )
    return found


def snapshot_of(client: ObjectClient, namespaces: Mapping[str, str]) -> dict[str, Any]:
    """The snapshot of every namespace: template name -> namespace, ``namespace`` first."""
    taken, _ = snapshot_and_in_flight(client, namespaces)
    return taken


def snapshot_and_in_flight(
    client: ObjectClient, namespaces: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The snapshot of every namespace, and its claims :func:`in_flight`, from one reading."""
    claims: dict[str, Any] = {}
    addresses: dict[str, Any] = {}
    pending: list[str] = []
    for variable, namespace in namespaces.items():
        prefix = "" if variable == "namespace" else f"{variable}/"
        ledger = read_ledger(client, namespace)
        one = snapshot(ledger)
        claims.update({prefix + key: value for key, value in one["claims"].items()})
        addresses.update({prefix + key: value for key, value in one["addresses"].items()})
        pending += [prefix + line for line in in_flight(ledger)]
    return {"claims": claims, "addresses": addresses}, pending


def _address_of(bound_to: str | None, addresses: dict[str, Obj]) -> str | None:
    if bound_to is None:
        return None
    if bound_to not in addresses:
        return f"(bound to {bound_to}, which does not exist)"
    return str(dig(addresses[bound_to], "spec", "address"))
