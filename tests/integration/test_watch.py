"""The plain watch against a real API server: listed objects, then every change in order,
resumed after the server ends a Watch, and a List again when its resourceVersion is too old."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.controlplane import ControlPlane
from ipam.kube import client, resources, watch

pytestmark = pytest.mark.cluster

NS = "watched"


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    with ControlPlane("watch", cluster_api=False) as plane:
        plane.kubectl("create", "namespace", NS)
        plane.kubectl("create", "namespace", "elsewhere")
        yield plane


def claim(name: str, namespace: str = NS) -> str:
    return json.dumps(
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"pool": {"name": "p"}},
        }
    )


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str | None, str, str]] = []
        self.changed = asyncio.Event()

    def __call__(self, kind: str | None, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        assert (body["apiVersion"], body["kind"]) == ("ipam.metal3.io/v1alpha1", "IPClaim")
        self.events.append((kind, meta["namespace"], meta["name"]))
        self.changed.set()

    async def until(self, wanted: tuple[str | None, str, str]) -> None:
        async with asyncio.timeout(60):
            while wanted not in self.events:
                self.changed.clear()
                await self.changed.wait()


def test_listed_then_every_change_in_order_and_resumed_after_the_server_ends_the_watch(
    cp: ControlPlane,
) -> None:
    cp.kubectl("apply", "-f", "-", input=claim("before"))
    cp.kubectl("apply", "-f", "-", input=claim("other-namespace", "elsewhere"))

    async def scenario() -> list[tuple[str | None, str, str]]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        seen = Seen()
        task = asyncio.create_task(
            watch.run(api, resources.IPCLAIM, NS, seen, server_timeout=2, retry=0.2)
        )
        try:
            await seen.until((None, NS, "before"))
            await asyncio.to_thread(cp.kubectl, "apply", "-f", "-", input=claim("made"))
            await seen.until(("ADDED", NS, "made"))
            await asyncio.sleep(4)  # the server ends the watch after 2 s: it is resumed
            await asyncio.to_thread(
                cp.kubectl, "label", "ipclaims.ipam.metal3.io", "made", "-n", NS, "x=y"
            )
            await seen.until(("MODIFIED", NS, "made"))
            await asyncio.to_thread(
                cp.kubectl, "delete", "ipclaims.ipam.metal3.io", "made", "-n", NS
            )
            await seen.until(("DELETED", NS, "made"))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
        return seen.events

    events = asyncio.run(scenario())
    assert events == [
        (None, NS, "before"),
        ("ADDED", NS, "made"),
        ("MODIFIED", NS, "made"),
        ("DELETED", NS, "made"),
    ], "each change once, in order, nothing of another namespace, no replay after a resume"


def test_a_watch_from_a_version_too_old_is_expired_so_the_stream_lists_again(
    cp: ControlPlane,
) -> None:
    """The API server refuses a Watch from a version it no longer has (410, in the answer or
    as an ERROR event): both come out as Expired, which makes :func:`watch.run` list again."""
    cp.kubectl("apply", "-f", "-", input=claim("churn"))
    for i in range(3):
        cp.kubectl("label", "--overwrite", "ipclaims.ipam.metal3.io", "churn", "-n", NS, f"n={i}")

    async def scenario() -> None:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        try:
            with pytest.raises(client.Expired):
                await watch.follow(api, resources.IPCLAIM, NS, "1", Seen(), 5)
        finally:
            await api.close()

    asyncio.run(scenario())
