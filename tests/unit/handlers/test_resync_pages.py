"""The periodic re-alignment reads its Lists page by page and lets queued claims drain.

Its claim reconciles take the bodies it queues; a pass reading every claim at once would
hold all their bodies together (the memory peak of a 20,000-claim controller every five
minutes). These tests page a small List and watch how many bodies wait at once.
"""

from __future__ import annotations

import asyncio

import pytest

from ipam.handlers import context, resync
from ipam.kube import bodies, client, resources
from tests.unit.handlers import driver
from tests.unit.handlers.fakeapi import FakeApi

PAGE = 3
CLAIMS = 10


class PagedApi(FakeApi):
    """Answers Lists ``PAGE`` objects at a time, with a continue token."""

    def __init__(self) -> None:
        super().__init__()
        self.pages_asked: list[tuple[str, int]] = []

    async def list_page(
        self, resource: resources.Resource, namespace: str | None, token: str | None = None
    ) -> client.Body:
        items = self.all(resource, namespace)
        start = int(token or 0)
        self.pages_asked.append((resource.plural, start))
        more = start + PAGE < len(items)
        return {
            "items": items[start : start + PAGE],
            "metadata": {"resourceVersion": "7", "continue": str(start + PAGE) if more else ""},
        }


def world() -> PagedApi:
    api = PagedApi()
    api.put(driver.POOL, driver.pool_body(name="pool1"))
    for i in range(CLAIMS):
        api.put(
            driver.IPCLAIM,
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": f"c{i}", "namespace": "ns"},
                "spec": {"pool": {"name": "pool1"}},
            },
        )
    return api


@pytest.fixture
def small_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resync, "DRAINED", 2)
    monkeypatch.setattr(resync, "DRAIN_WAIT", 0.3)
    monkeypatch.setattr(resync, "DRAIN_POLL", 0.01)


@pytest.mark.usefixtures("small_drain")
def test_a_pass_reads_the_next_page_of_claims_once_the_last_one_drained() -> None:
    async def scenario() -> tuple[int, set[str]]:
        api = world()
        ctx = driver.controller(api)
        most = 0
        taken: set[str] = set()

        async def reconciles() -> None:  # the claim workers, one body at a time
            nonlocal most
            while True:
                most = max(most, len(ctx.mailbox))
                if ctx.mailbox:
                    ref = next(iter(ctx.mailbox))
                    ctx.mailbox.pop(ref)
                    taken.add(ref.name)
                await asyncio.sleep(0.005)

        worker = asyncio.create_task(reconciles())
        await resync.once(ctx, ["ns"])
        await asyncio.sleep(0.1)
        worker.cancel()
        return most, taken

    most, taken = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert taken == {f"c{i}" for i in range(CLAIMS)}, "every claim is queued with its body"
    assert most <= resync.DRAINED + PAGE, f"{most} bodies waited at once"


@pytest.mark.usefixtures("small_drain")
def test_a_pass_whose_claims_do_not_drain_reads_on_after_a_while() -> None:
    async def scenario() -> tuple[PagedApi, context.Context]:
        api = world()
        ctx = driver.controller(api)
        await resync.once(ctx, ["ns"])
        return api, ctx

    api, ctx = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    claim_pages = [start for plural, start in api.pages_asked if plural == "ipclaims"]
    assert claim_pages == list(range(0, CLAIMS, PAGE)), "each page once, in order"
    assert {ref.name for ref in ctx.mailbox} == {f"c{i}" for i in range(CLAIMS)}


def test_bodies_queued_before_the_pass_do_not_hold_it_back(
    small_drain: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resync, "DRAIN_WAIT", 30.0)  # a wait would be seen, and time out

    async def scenario() -> PagedApi:
        api = world()
        ctx = driver.controller(api)
        for i in range(5):  # a watch's backlog, waiting for its reconciles
            ref = context.ClaimRef("metal3", "other", f"queued-{i}")
            ctx.mailbox[ref] = bodies.Kept.of({"metadata": {"name": ref.name}})
        taken = asyncio.Event()

        async def reconciles() -> None:  # takes only what the pass queues
            while True:
                for ref in [r for r in ctx.mailbox if r.namespace == "ns"]:
                    ctx.mailbox.pop(ref)
                    taken.set()
                await asyncio.sleep(0.005)

        worker = asyncio.create_task(reconciles())
        await asyncio.wait_for(resync.once(ctx, ["ns"]), timeout=5)
        worker.cancel()
        return api

    api = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert [s for p, s in api.pages_asked if p == "ipclaims"] == list(range(0, CLAIMS, PAGE))


def test_a_pass_keeps_the_fact_of_every_address_that_did_not_change() -> None:
    """A pass over 100,000 unchanged IPAddresses must not make 100,000 new facts while the
    old ones still live: the allocator would keep that high-water mark for good."""

    async def scenario() -> tuple[dict[str, object], dict[str, object]]:
        api = world()
        for i in range(1, 4):
            api.put(
                resources.METAL3_IPADDRESS,
                driver.metal3_address(f"pool1-10-0-0-{i}", f"10.0.0.{i}", f"c{i}", pool="pool1"),
            )
        ctx = driver.controller(api)
        await resync.once(ctx, ["ns"])
        first = {f.name: f for f in ctx.registry.facts_in("ns")}
        await api.patch(
            resources.METAL3_IPADDRESS, "ns", "pool1-10-0-0-2", {"metadata": {"labels": {"a": "b"}}}
        )
        await resync.once(ctx, ["ns"])
        second = {f.name: f for f in ctx.registry.facts_in("ns")}
        return first, second

    first, second = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert set(first) == set(second) == {f"pool1-10-0-0-{i}" for i in range(1, 4)}
    assert second["pool1-10-0-0-1"] is first["pool1-10-0-0-1"]
    assert second["pool1-10-0-0-3"] is first["pool1-10-0-0-3"]
    changed = second["pool1-10-0-0-2"]
    assert changed is not first["pool1-10-0-0-2"], "a changed object is read again"
    assert dict(changed.labels) == {"a": "b"}
