"""IPAddresses of ours whose claim is gone when the controller starts are released, not kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ipam.handlers import operator, resync
from ipam.kube import resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=30))


def _list_claims(api: FakeApi, streams: list[operator.ClaimStream]) -> None:
    for stream in streams:
        for body in api.all(stream.flavour.claim, "ns"):
            stream(None, body)
        stream.listed()


@pytest.mark.parametrize("claims_first", [True, False], ids=["claims-listed-first", "later"])
def test_an_orphan_present_at_start_up_is_released_without_waiting_for_a_periodic_pass(
    claims_first: bool,
) -> None:
    async def scenario() -> FakeApi:
        api = FakeApi()
        api.put(driver.POOL, driver.pool_body())
        ours = {"finalizers": ["ipaddress.ipam.metal3.io"]}
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-1", "10.0.0.1", "ghost", **ours))
        api.put(driver.M3_ADDRESS, driver.metal3_address("p-10-0-0-2", "10.0.0.2", "kept", **ours))
        api.put(driver.IPCLAIM, driver.metal3_claim("kept"))
        ctx = driver.controller(api)
        # What the controller does when it starts: list the claims while it reads the
        # IPAddresses, then serve the watch events of what exists; no periodic pass runs
        # within the test.
        streams = [operator.ClaimStream(ctx, f, "ns") for f in resources.FLAVOURS.values()]
        if claims_first:
            _list_claims(api, streams)
        await resync.prime(ctx, ["ns"])
        if not claims_first:
            _list_claims(api, streams)
        for stream in streams:
            stream.primed()
        await driver.settle(ctx, api)
        return api

    api = run(scenario)
    assert api.find(driver.M3_ADDRESS, "ns", "p-10-0-0-1") is None
    assert api.find(driver.M3_ADDRESS, "ns", "p-10-0-0-2") is not None
