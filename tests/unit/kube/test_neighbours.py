"""What the webhook reads about a request's neighbours: live holders of our pools only."""

from __future__ import annotations

import asyncio
from typing import Any

from ipam.core import admission
from ipam.kube import client, neighbours, resources
from tests.unit.handlers.fakeapi import FakeApi

NS = "ns"
BOTH = tuple(resources.FLAVOURS.values())


def metal3(name: str, ip: str, pool: str, claim: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, **meta},
        "spec": {"address": ip, "pool": {"name": pool}, "claim": {"name": claim}},
    }


def capi(name: str, ip: str, pool: str, claim: str, kind: str = "IPPool") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "address": ip,
            "poolRef": {"apiGroup": "ipam.metal3.io", "kind": kind, "name": pool},
            "claimRef": {"name": claim},
        },
    }


def world() -> FakeApi:
    api = FakeApi()
    api.put(resources.METAL3_IPADDRESS, metal3("p-10-0-0-1", "10.0.0.1", "p", "a"))
    api.put(resources.CAPI_IPADDRESS, capi("p-10-0-0-2", "10.0.0.2", "p", "b"))
    api.put(resources.CAPI_IPADDRESS, capi("x-10-0-0-3", "10.0.0.3", "x", "c", "Other"))
    leaving = metal3("p-10-0-0-4", "10.0.0.4", "p", "d", finalizers=["keep"])
    api.put(resources.METAL3_IPADDRESS, leaving)
    api.user_delete(resources.METAL3_IPADDRESS, NS, "p-10-0-0-4")
    api.put(
        resources.IPPOOL, {"metadata": {"name": "p", "namespace": NS}, "spec": {"namePrefix": "p"}}
    )
    return api


def test_the_namespace_s_holders_are_both_kinds_of_our_pools_and_not_those_going_away() -> None:
    found = asyncio.run(neighbours.held_in(world(), NS, BOTH))
    assert found == [
        admission.Held("metal3", "p-10-0-0-1", "p", "a", "10.0.0.1"),
        admission.Held("capi", "p-10-0-0-2", "p", "b", "10.0.0.2"),
    ]


def test_a_requested_address_is_looked_up_by_its_object_names_in_its_pool_only() -> None:
    api = world()

    def holders(pool: str, address: str) -> list[admission.Held]:
        return asyncio.run(
            neighbours.holders(api, NS, BOTH, pool=pool, name_prefix="p", address=address)
        )

    assert holders("p", "10.0.0.2") == [admission.Held("capi", "p-10-0-0-2", "p", "b", "10.0.0.2")]
    assert holders("q", "10.0.0.2") == []  # the name is taken, but by another pool's object
    assert holders("p", "10.0.0.4") == []
    assert holders("p", "10.0.0.9") == []


def test_pools_are_read_by_name() -> None:
    api = world()
    assert asyncio.run(neighbours.pool_specs(api, NS)) == {"p": {"namePrefix": "p"}}
    assert asyncio.run(neighbours.pool_spec(api, NS, "p")) == {"namePrefix": "p"}
    assert asyncio.run(neighbours.pool_spec(api, NS, "nope")) is None


class WithoutClusterApi(FakeApi):
    """A cluster where Cluster API's IPAddresses are not served: listing them is a 404."""

    async def list_objects(
        self, resource: resources.Resource, namespace: str | None = None, **kwargs: Any
    ) -> list[Any]:
        if resource.group == resources.CAPI_IPAM_GROUP:
            raise client.KubeError("the server could not find the requested resource", status=404)
        return await super().list_objects(resource, namespace, **kwargs)


def test_a_kind_the_cluster_does_not_serve_holds_nothing() -> None:
    api = WithoutClusterApi()
    api.put(resources.METAL3_IPADDRESS, metal3("p-10-0-0-1", "10.0.0.1", "p", "a"))
    assert asyncio.run(neighbours.held_in(api, NS, BOTH)) == [
        admission.Held("metal3", "p-10-0-0-1", "p", "a", "10.0.0.1")
    ]
