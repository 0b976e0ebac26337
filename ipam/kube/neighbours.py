"""What admission reads about an object's neighbours, fresh from the API server at every request.

The webhook is served by every instance, standbys included, so it never asks the leader's
memory: it reads the namespace's pools and the IPAddresses that matter here. A pool's
admission lists the namespace's pools and IPAddresses (pool edits are rare); a claim's
reads its pool and, for a requested address, the two objects that could hold it: an
IPAddress's name is ``<namePrefix>-<address>``, so two GETs answer "is it held".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ipam.core import admission, names
from ipam.kube import api as kube_api
from ipam.kube import bodies, client, resources


async def pool_specs(api: kube_api.Api, namespace: str) -> dict[str, Mapping[str, Any]]:
    """Every pool of the namespace: name -> spec."""
    found = await api.list_objects(resources.IPPOOL, namespace)
    return {
        bodies.meta_of(body).name: bodies.as_map(body.get("spec"))
        for body in found
        if bodies.meta_of(body).name
    }


async def pool_spec(api: kube_api.Api, namespace: str, name: str) -> Mapping[str, Any] | None:
    """The spec of one pool, or None when it does not exist."""
    body = await api.get(resources.IPPOOL, namespace, name)
    return None if body is None else bodies.as_map(body.get("spec"))


async def held_in(
    api: kube_api.Api, namespace: str, flavours: Sequence[resources.Flavour]
) -> list[admission.Held]:
    """Every IPAddress of the namespace that holds an address of one of our pools."""
    found: list[admission.Held] = []
    for flavour in flavours:
        try:
            listed = await api.list_objects(flavour.address, namespace)
        except client.KubeError as err:
            if err.status == 404:  # not served (no Cluster API here): nothing held by that kind
                continue
            raise
        for body in listed:
            found.extend(_held(flavour, body))
    return found


async def holders(
    api: kube_api.Api,
    namespace: str,
    flavours: Sequence[resources.Flavour],
    *,
    pool: str,
    name_prefix: str,
    address: str,
) -> list[admission.Held]:
    """The IPAddresses of ``pool`` that hold ``address`` (at most one per kind)."""
    name = names.address_object_name(name_prefix, address)
    found: list[admission.Held] = []
    for flavour in flavours:
        body = await api.get(flavour.address, namespace, name)
        if body is not None:
            found.extend(h for h in _held(flavour, body) if h.pool == pool)
    return found


def _held(flavour: resources.Flavour, body: bodies.Body) -> list[admission.Held]:
    record = bodies.address_record(flavour, body)
    if record.meta.deleting or not record.pool_name or not record.address:
        return []
    return [
        admission.Held(
            kind=flavour.kind,
            object_name=record.meta.name,
            pool=record.pool_name,
            claim=record.claim_name,
            address=record.address,
        )
    ]
