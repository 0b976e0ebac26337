"""The periodic re-alignment against a real API server: its Lists are read page by page
(the server's continue tokens), every object is seen, and the claim bodies it queues are
let drain before each next page, so they never all wait at once."""

from __future__ import annotations

import asyncio
import json

import pytest

from e2e.cluster import Cluster
from e2e.pytest_plugin import Namespaces
from ipam.handlers import context, metrics, resync, state
from ipam.kube import client, events

pytestmark = pytest.mark.cluster

CLAIMS = 12
PAGE = 5


def objects(namespace: str) -> str:
    items = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"namePrefix": "p", "pools": [{"subnet": "10.70.0.0/24"}], "prefix": 24},
        }
    ]
    for i in range(CLAIMS):
        items.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": f"c{i}", "namespace": namespace},
                "spec": {"pool": {"name": "p"}},
            }
        )
        items.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPAddress",
                "metadata": {"name": f"p-10-70-0-{i + 1}", "namespace": namespace},
                "spec": {
                    "address": f"10.70.0.{i + 1}",
                    "prefix": 24,
                    "pool": {"name": "p"},
                    "claim": {"name": f"c{i}"},
                },
            }
        )
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def test_a_pass_pages_through_real_lists_and_lets_queued_claims_drain(
    source_cluster: Cluster, test_namespaces: Namespaces, monkeypatch: pytest.MonkeyPatch
) -> None:
    cp = source_cluster
    (ns,) = test_namespaces.ensure(1)
    cp.kubectl("apply", "-f", "-", input=objects(ns))
    monkeypatch.setattr(client, "PAGE_SIZE", PAGE)
    monkeypatch.setattr(resync, "DRAINED", 2)

    async def scenario() -> tuple[int, set[str], set[str], bool]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        ctx = context.Context(
            api=api,
            registry=state.Registry(),
            recorder=events.Recorder(api, instance="test"),
            metrics=metrics.Metrics(),
        )
        most = 0
        taken: set[str] = set()
        whole = True

        async def reconciles() -> None:  # the claim workers, one body at a time
            nonlocal most, whole
            while True:
                most = max(most, len(ctx.mailbox))
                if ctx.mailbox:
                    ref = next(iter(ctx.mailbox))
                    body = ctx.take_body(ref)
                    assert body is not None
                    taken.add(ref.name)
                    whole &= body.get("kind") == "IPClaim" and "spec" in body
                    whole &= "managedFields" not in body["metadata"]
                await asyncio.sleep(0.01)

        worker = asyncio.create_task(reconciles())
        try:
            await resync.once(ctx, [ns])
            await asyncio.sleep(0.2)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await api.close()
        known = {fact.name for fact in ctx.registry.facts_in(ns)}
        return most, taken, known, whole

    most, taken, known, whole = asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    assert taken == {f"c{i}" for i in range(CLAIMS)}, "every claim is queued once"
    assert known == {f"p-10-70-0-{i + 1}" for i in range(CLAIMS)}, "every IPAddress is known"
    assert whole, "each queued body is the whole claim, without the server's managedFields"
    assert most <= 2 + PAGE, f"{most} claim bodies waited at once (a page is {PAGE})"
