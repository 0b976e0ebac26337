"""A paused claim writes nothing on itself; one still waiting for an address is told why."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ipam.handlers import context
from ipam.kube import resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def cluster(name: str, *, paused: bool = False, annotated: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns"}
    if annotated:
        metadata["annotations"] = {resources.PAUSED_ANNOTATION: ""}
    return {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": metadata,
        "spec": {"paused": paused},
    }


def paused_events(api: FakeApi, name: str) -> list[tuple[str, str]]:
    return [
        (event["type"], event["message"])
        for event in api.posted
        if event["involvedObject"]["name"] == name and event["reason"] == "Paused"
    ]


def test_a_claim_of_a_paused_cluster_gets_no_address_and_one_event_saying_why() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(resources.CLUSTER, cluster("by-spec", paused=True))
        api.put(resources.CLUSTER, cluster("by-annotation", annotated=True))
        api.put(driver.POOL, driver.pool_body())
        for name in ("by-spec", "by-annotation"):
            labels = {resources.CLUSTER_NAME_LABEL: name}
            api.put(driver.CAPI_CLAIM, driver.capi_claim(f"{name}-0", labels=labels))
        api.put(
            driver.IPCLAIM,
            driver.metal3_claim("own", annotations={resources.PAUSED_ANNOTATION: ""}),
        )
        await driver.settle(ctx, api)
        ctx.claim(context.ClaimRef("capi", "ns", "by-spec-0"))  # looked at again: no second Event
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.all(driver.CAPI_ADDRESS) == []
    assert api.all(driver.M3_ADDRESS) == []
    for kind, name in (
        (driver.CAPI_CLAIM, "by-spec-0"),
        (driver.CAPI_CLAIM, "by-annotation-0"),
        (driver.IPCLAIM, "own"),
    ):
        claim = api.find(kind, "ns", name)
        assert claim is not None
        assert "status" not in claim, name
        assert not claim["metadata"].get("finalizers"), name
    assert paused_events(api, "by-spec-0") == [
        ("Normal", "Not served while paused: its Cluster by-spec is paused")
    ]
    assert paused_events(api, "by-annotation-0") == [
        ("Normal", "Not served while paused: its Cluster by-annotation is paused")
    ]
    assert paused_events(api, "own") == [
        (
            "Normal",
            "Not served while paused: the claim carries the cluster.x-k8s.io/paused annotation",
        )
    ]


def test_a_bound_claim_says_nothing_when_its_cluster_pauses() -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        ctx = driver.controller(api)
        api.put(resources.CLUSTER, cluster("wl"))
        api.put(driver.POOL, driver.pool_body())
        labels = {resources.CLUSTER_NAME_LABEL: "wl"}
        api.put(driver.CAPI_CLAIM, driver.capi_claim("m-0", labels=labels))
        await driver.settle(ctx, api)
        api.put(resources.CLUSTER, cluster("wl", paused=True))
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    claim = api.find(driver.CAPI_CLAIM, "ns", "m-0")
    assert claim is not None
    assert claim["status"]["addressRef"]["name"] == "p-10-0-0-1"
    assert paused_events(api, "m-0") == []
