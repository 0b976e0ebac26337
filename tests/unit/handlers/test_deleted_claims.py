"""A claim the watch saw deleted is known gone: its last reconcile asks the server nothing.

Releasing a claim ends with the watch reporting it DELETED. Its reconcile used to read the
claim again only to be told 404, one extra request per released claim (more than one when
its IPAddress's deletion queued it too), while thousands are released at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ipam.kube import client
from ipam.kube.resources import Resource
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi


class CountingApi(FakeApi):
    """The in-memory server, counting every GET by plural and by whether it found the object."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: Counter[tuple[str, bool]] = Counter()

    async def get(self, resource: Resource, namespace: str, name: str) -> client.Body | None:
        found = await super().get(resource, namespace, name)
        self.gets[(resource.plural, found is not None)] += 1
        return found


def run(test: Any) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=60))


def test_released_claims_of_both_kinds_are_not_read_again_once_deleted() -> None:
    async def scenario() -> tuple[CountingApi, int]:
        api = CountingApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        for n in range(2):
            api.put(driver.IPCLAIM, driver.metal3_claim(f"m{n}"))
            api.put(driver.CAPI_CLAIM, driver.capi_claim(f"c{n}"))
        await driver.settle(ctx, api)
        bound = len(api.all(driver.M3_ADDRESS)) + len(api.all(driver.CAPI_ADDRESS))
        api.gets.clear()
        for n in range(2):
            api.user_delete(driver.IPCLAIM, "ns", f"m{n}")
            api.user_delete(driver.CAPI_CLAIM, "ns", f"c{n}")
        await driver.settle(ctx, api)
        await ctx.recorder.stop()
        return api, bound

    api, bound = run(scenario)
    assert bound == 4, "every claim was bound before it was deleted"
    assert api.all(driver.IPCLAIM) == api.all(driver.CAPI_CLAIM) == []
    assert api.all(driver.M3_ADDRESS) == api.all(driver.CAPI_ADDRESS) == []
    missed = {
        plural: n
        for (plural, found), n in api.gets.items()
        if not found and plural.endswith("claims")
    }
    assert missed == {}, "a claim the watch saw deleted is not asked for"


def test_a_claim_made_again_under_a_deleted_ones_name_is_served() -> None:
    async def scenario() -> CountingApi:
        api = CountingApi()
        ctx = driver.controller(api)
        api.put(driver.POOL, driver.pool_body())
        api.put(driver.IPCLAIM, driver.metal3_claim("again"))
        await driver.settle(ctx, api)
        api.user_delete(driver.IPCLAIM, "ns", "again")
        await driver.settle(ctx, api)
        api.put(driver.IPCLAIM, driver.metal3_claim("again"))
        await driver.settle(ctx, api)
        await ctx.recorder.stop()
        return api

    api = run(scenario)
    (claim,) = api.all(driver.IPCLAIM)
    assert (claim.get("status") or {}).get("address"), "the new claim is bound"
    assert len(api.all(driver.M3_ADDRESS)) == 1
