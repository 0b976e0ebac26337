"""The plain watch against a real API server: listed objects, then every change in order,
resumed after the server ends a Watch, and a List again when its resourceVersion is too old."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.pytest_plugin import Namespaces
from ipam.kube import client, resources, watch

pytestmark = pytest.mark.cluster


def claim(name: str, namespace: str) -> str:
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
    source_cluster: Cluster, test_namespaces: Namespaces
) -> None:
    cp = source_cluster
    ns, elsewhere = test_namespaces.ensure(2)
    cp.kubectl("apply", "-f", "-", input=claim("before", ns))
    cp.kubectl("apply", "-f", "-", input=claim("other-namespace", elsewhere))

    async def scenario() -> list[tuple[str | None, str, str]]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        seen = Seen()
        task = asyncio.create_task(
            watch.run(api, resources.IPCLAIM, ns, seen, server_timeout=2, retry=0.2)
        )
        try:
            await seen.until((None, ns, "before"))
            await asyncio.to_thread(cp.kubectl, "apply", "-f", "-", input=claim("made", ns))
            await seen.until(("ADDED", ns, "made"))
            await asyncio.sleep(4)  # the server ends the watch after 2 s: it is resumed
            await asyncio.to_thread(
                cp.kubectl, "label", "ipclaims.ipam.metal3.io", "made", "-n", ns, "x=y"
            )
            await seen.until(("MODIFIED", ns, "made"))
            await asyncio.to_thread(
                cp.kubectl, "delete", "ipclaims.ipam.metal3.io", "made", "-n", ns
            )
            await seen.until(("DELETED", ns, "made"))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
        return seen.events

    events = asyncio.run(scenario())
    assert events == [
        (None, ns, "before"),
        ("ADDED", ns, "made"),
        ("MODIFIED", ns, "made"),
        ("DELETED", ns, "made"),
    ], "each change once, in order, nothing of another namespace, no replay after a resume"


def test_a_stream_started_where_an_earlier_list_ended_does_not_list_again(
    source_cluster: Cluster, namespace: str
) -> None:
    cp, ns = source_cluster, namespace
    cp.kubectl("apply", "-f", "-", input=claim("before", ns))

    async def scenario() -> tuple[list[tuple[str | None, str, str]], int, int]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        read = Seen()
        version = await watch.list_all(api, resources.IPCLAIM, ns, read)
        await asyncio.to_thread(cp.kubectl, "apply", "-f", "-", input=claim("made", ns))
        seen = Seen()
        lists = 0

        def listed() -> None:
            nonlocal lists
            lists += 1

        task = asyncio.create_task(
            watch.run(api, resources.IPCLAIM, ns, seen, since=version, listed=listed)
        )
        try:
            await seen.until(("ADDED", ns, "made"))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
        return seen.events, len(read.events), lists

    events, read, lists = asyncio.run(scenario())
    assert read == 1
    assert events == [("ADDED", ns, "made")], "only what changed after the earlier List"
    assert lists == 0


def test_bodies_are_handed_over_without_managed_fields(
    source_cluster: Cluster, namespace: str
) -> None:
    """A queued claim's body waits in memory until its reconcile: the server's managedFields
    are most of it (about 3 of 4.7 KB parsed) and nothing here reads them."""
    cp, ns = source_cluster, namespace
    cp.kubectl("apply", "-f", "-", input=claim("listed", ns))
    server_has = cp.get_json("ipclaims.ipam.metal3.io", "listed", "-n", ns, "--show-managed-fields")
    assert server_has["metadata"].get("managedFields"), "the API server keeps them"

    async def scenario() -> list[dict[str, Any]]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        delivered: list[dict[str, Any]] = []
        arrived = {"listed": asyncio.Event(), "watched": asyncio.Event()}

        def handler(kind: str | None, body: dict[str, Any]) -> None:
            delivered.append(body)
            arrived[body["metadata"]["name"]].set()

        task = asyncio.create_task(watch.run(api, resources.IPCLAIM, ns, handler))
        try:
            async with asyncio.timeout(60):
                await arrived["listed"].wait()
                await asyncio.to_thread(cp.kubectl, "apply", "-f", "-", input=claim("watched", ns))
                await arrived["watched"].wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()
        return delivered

    delivered = asyncio.run(scenario())
    assert [b["metadata"]["name"] for b in delivered] == ["listed", "watched"]
    for body in delivered:
        assert "managedFields" not in body["metadata"]
        assert body["metadata"]["uid"]
        assert body["spec"] == {"pool": {"name": "p"}}


def test_a_whole_list_comes_without_managed_fields_too(
    source_cluster: Cluster, namespace: str
) -> None:
    """The periodic re-alignment lists every claim at once and queues each with its body."""
    cp, ns = source_cluster, namespace
    for name in ("a", "b"):
        cp.kubectl("apply", "-f", "-", input=claim(name, ns))

    async def scenario() -> list[dict[str, Any]]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        try:
            return await api.list_objects(resources.IPCLAIM, ns)
        finally:
            await api.close()

    items = asyncio.run(scenario())
    assert sorted(b["metadata"]["name"] for b in items) == ["a", "b"]
    for body in items:
        assert "managedFields" not in body["metadata"]
        assert body["metadata"]["uid"]


def test_a_watch_from_a_version_too_old_is_expired_so_the_stream_lists_again(
    source_cluster: Cluster, namespace: str
) -> None:
    """The API server refuses a Watch from a version it no longer has (410, in the answer or
    as an ERROR event): both come out as Expired, which makes :func:`watch.run` list again."""
    cp, ns = source_cluster, namespace
    cp.kubectl("apply", "-f", "-", input=claim("churn", ns))
    for i in range(3):
        cp.kubectl("label", "--overwrite", "ipclaims.ipam.metal3.io", "churn", "-n", ns, f"n={i}")

    async def scenario() -> None:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        try:
            with pytest.raises(client.Expired):
                await watch.follow(api, resources.IPCLAIM, ns, "1", Seen(), 5)
        finally:
            await api.close()

    asyncio.run(scenario())


def test_a_list_of_many_pages_hands_every_object_over_once_in_order(
    source_cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cp, ns = source_cluster, namespace
    names = [f"paged-{i:02d}" for i in range(11)]
    listed = [json.loads(claim(name, ns)) for name in names]
    cp.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": listed})
    )
    monkeypatch.setattr(client, "PAGE_SIZE", 3)  # four pages, each asked for ahead

    async def scenario() -> tuple[list[tuple[str | None, str, str]], str]:
        api = await client.Client.connect(str(cp.kubeconfig_path))
        read = Seen()
        try:
            version = await watch.list_all(api, resources.IPCLAIM, ns, read)
        finally:
            await api.close()
        return read.events, version

    events, version = asyncio.run(scenario())
    assert events == [(None, ns, name) for name in names]
    assert version.isdigit()
