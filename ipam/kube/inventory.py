"""A one-shot read of pools and their IPAddresses, for people (the ``pools`` command), not for reconciles."""

from __future__ import annotations

from dataclasses import dataclass

from ipam.core import ledger
from ipam.kube import bodies, client, resources


@dataclass(frozen=True)
class PoolView:
    record: bodies.PoolRecord
    ledger: ledger.Ledger
    addresses: tuple[bodies.AddressRecord, ...]


async def pools(api: client.Client, namespace: str | None) -> list[PoolView]:
    """Every IPPool (of the namespace, or all) with the IPAddresses of both kinds naming it."""
    records = [bodies.pool_record(b) for b in await api.list_objects(resources.IPPOOL, namespace)]
    found: dict[tuple[str, str], list[bodies.AddressRecord]] = {}
    for flavour in resources.FLAVOURS.values():
        try:
            items = await api.list_objects(flavour.address, namespace)
        except client.KubeError as err:
            if err.status == 404:
                continue
            raise
        for body in items:
            record = bodies.address_record(flavour, body)
            if record.pool_name:
                found.setdefault((record.meta.namespace, record.pool_name), []).append(record)
    views = []
    for pool in sorted(records, key=lambda r: r.meta.key):
        held = found.get(pool.meta.key, [])
        views.append(PoolView(pool, ledger.Ledger(r.holding for r in held), tuple(held)))
    return views
