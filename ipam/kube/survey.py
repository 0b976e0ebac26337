"""One read of pools, claims and addresses of both kinds for the command line: records, no decisions.

Cluster API's kinds are optional: where their CRDs are not installed, they are read as
empty. Our own kinds are not: a missing IPPool CRD is the caller's error to explain.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipam.core import whois
from ipam.kube import bodies, client, resources


@dataclass(frozen=True)
class Condition:
    """One entry of ``status.conditions``, as strings (empty where the field is missing)."""

    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class Survey:
    pools: tuple[bodies.PoolRecord, ...]
    claims: tuple[bodies.ClaimRecord, ...]
    addresses: tuple[bodies.AddressRecord, ...]

    def held(self) -> list[whois.Held]:
        """Every IPAddress of ours, as the who-lookup reads it."""
        return [
            whois.Held(
                namespace=a.meta.namespace,
                pool=a.pool_name,
                address=a.address,
                claim_kind=a.flavour.kind,
                claim=a.claim_name,
                object_name=a.meta.name,
                since=a.meta.creation,
            )
            for a in self.addresses
        ]

    def claim_facts(self) -> list[whois.Claim]:
        """Every claim of ours, with the error it reports (if it reports one)."""
        return [
            whois.Claim(c.meta.namespace, c.flavour.kind, c.meta.name, c.pool_name, claim_error(c))
            for c in self.claims
            if c.served
        ]

    def named_pools(self) -> list[whois.NamedPool]:
        return [whois.NamedPool(p.meta.namespace, p.meta.name, p.pool) for p in self.pools]


async def read(api: client.Client, namespace: str | None, *, claims: bool = True) -> Survey:
    """Pools, (claims) and our addresses of ``namespace``, or of every namespace when None."""
    pools = [bodies.pool_record(b) for b in await _optional(api, resources.IPPOOL, namespace)]
    claim_records: list[bodies.ClaimRecord] = []
    address_records: list[bodies.AddressRecord] = []
    for flavour in resources.FLAVOURS.values():
        if claims:
            for body in await _optional(api, flavour.claim, namespace):
                claim_records.append(bodies.claim_record(flavour, body))
        for body in await _optional(api, flavour.address, namespace):
            record = bodies.address_record(flavour, body)
            if record.pool_name:
                address_records.append(record)
    return Survey(
        tuple(sorted(pools, key=lambda p: p.meta.key)),
        tuple(claim_records),
        tuple(address_records),
    )


async def _optional(
    api: client.Client, resource: resources.Resource, namespace: str | None
) -> list[client.Body]:
    """The objects of a kind, or none when its CRD is not installed (Cluster API's kinds).

    Our own kinds are required: their absence is an error that names the missing type.
    """
    try:
        return await api.list_objects(resource, namespace)
    except client.KubeError as err:
        if err.status != 404:
            raise
        if resource.group != resources.METAL3_GROUP:
            return []
        raise client.KubeError(
            f"the API server does not serve {resource} ({resource.api_version})", status=404
        ) from err


def conditions(status: bodies.Body) -> tuple[Condition, ...]:
    """The conditions of a status, skipping entries that are not objects."""
    found = status.get("conditions")
    if not isinstance(found, list):
        return ()
    return tuple(
        Condition(
            type=_text(c.get("type")),
            status=_text(c.get("status")),
            reason=_text(c.get("reason")),
            message=_text(c.get("message")),
        )
        for c in found
        if isinstance(c, dict)
    )


def claim_error(claim: bodies.ClaimRecord) -> str:
    """Why a claim holds nothing, as it says itself: Metal3's errorMessage or CAPI's Ready."""
    if claim.error_message:
        return claim.error_message
    ready = claim.condition(resources.CAPI_READY_CONDITION)
    if ready is not None and ready.get("status") == "False":
        return _text(ready.get("message")) or _text(ready.get("reason"))
    return ""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
