"""Control plane figures: time to start one, and the raw create throughput of its API server.

The throughput is the physical limit later benchmarks compare to: concurrent POSTs from
Python (aiohttp, admin client certificate) of ConfigMaps, of ipam.metal3.io IPAddress
objects (the custom resource the controller writes most) and of Cluster API
IPAddresses, which pass Cluster API's validating webhook on the way. The start time and
the Cluster API IPAddress rate are also taken on a control plane without Cluster API's
manager, so the cost of running it shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e.controlplane import ControlPlane


def ssl_context(cp: ControlPlane) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cp.pki.ca_cert))
    ctx.load_cert_chain(str(cp.pki.admin_cert), str(cp.pki.admin_key))
    return ctx


async def create_many(
    cp: ControlPlane, path: str, bodies: list[dict[str, Any]], concurrency: int
) -> float:
    """POST every body with ``concurrency`` requests in flight; return creates per second."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(
                f"{cp.server}{path}",
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
            ) as resp:
                if resp.status != 201:
                    failures += 1
                await resp.read()

    elapsed = await timed_workers(cp, concurrency, worker)
    if failures:
        raise RuntimeError(f"{failures} creates failed")
    return len(bodies) / elapsed


async def timed_workers(
    cp: ControlPlane,
    concurrency: int,
    worker: Callable[[aiohttp.ClientSession], Awaitable[None]],
) -> float:
    """Seconds ``concurrency`` copies of ``worker`` take, sharing one session to ``cp``."""
    connector = aiohttp.TCPConnector(ssl=ssl_context(cp), limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started


MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class ClaimCycles:
    """The requests one claim's binding, then its release, ask of the API server, sent by a
    bare client: no controller and no watch, so the server's own rate for exactly that work.

    Binding, per claim and one after the other: create the claim (what a user does), create
    its IPAddress, put the finalizer on the claim, write the claim's status. Releasing:
    delete the claim (what a user does; the finalizer holds it), delete its IPAddress, take
    the IPAddress's finalizer off (when it was made with one), take the claim's off. The
    claims are ``cycle-<i>`` in ``namespace`` and name a pool ``cycle`` that need not exist.
    """

    def __init__(
        self, cp: ControlPlane, namespace: str, cluster_api: bool, *, address_finalizer: bool
    ) -> None:
        self.cp = cp
        self.namespace = namespace
        self.cluster_api = cluster_api
        self.group = "ipam.cluster.x-k8s.io/v1beta2" if cluster_api else "ipam.metal3.io/v1alpha1"
        self.claims = f"/apis/{self.group}/namespaces/{namespace}/" + (
            "ipaddressclaims" if cluster_api else "ipclaims"
        )
        self.addresses = f"/apis/{self.group}/namespaces/{namespace}/ipaddresses"
        self.claim_finalizer = (
            "ipam.metal3.io/ipaddressclaim" if cluster_api else "ipclaim.ipam.metal3.io"
        )
        self.address_finalizer = (
            ("ipam.metal3.io/ipaddress" if cluster_api else "ipaddress.ipam.metal3.io")
            if address_finalizer
            else None
        )

    def claim(self, i: int) -> dict[str, Any]:
        pool = {"name": "cycle"}
        spec: dict[str, Any] = (
            {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", **pool}}
            if self.cluster_api
            else {"pool": pool}
        )
        kind = "IPAddressClaim" if self.cluster_api else "IPClaim"
        meta = {"name": f"cycle-{i}", "namespace": self.namespace}
        return {"apiVersion": self.group, "kind": kind, "metadata": meta, "spec": spec}

    @staticmethod
    def address_name(i: int) -> str:
        return f"cycle-10-{i // 65536}-{i // 256 % 256}-{i % 256}"

    def address(self, i: int) -> dict[str, Any]:
        text = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        spec: dict[str, Any] = {"address": text, "prefix": 8}
        if self.cluster_api:
            spec["claimRef"] = {"name": f"cycle-{i}"}
            spec["poolRef"] = {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "cycle"}
        else:
            spec["pool"] = {"name": "cycle"}
            spec["claim"] = {"name": f"cycle-{i}"}
        meta: dict[str, Any] = {"name": self.address_name(i), "namespace": self.namespace}
        if self.address_finalizer:
            meta["finalizers"] = [self.address_finalizer]
        return {"apiVersion": self.group, "kind": "IPAddress", "metadata": meta, "spec": spec}

    def status(self, i: int) -> dict[str, Any]:
        name = self.address_name(i)
        if self.cluster_api:
            return {"status": {"addressRef": {"name": name}}}
        return {"status": {"address": {"name": name, "namespace": self.namespace}}}

    async def bind(self, n: int, concurrency: int) -> float:
        """Claims per second through the binding requests."""
        claims, json_body = self.claims, {"Content-Type": "application/json"}
        finalizers = {"metadata": {"finalizers": [self.claim_finalizer]}}

        async def one(send: _Send, i: int) -> None:
            await send("POST", claims, self.claim(i), json_body)
            await send("POST", self.addresses, self.address(i), json_body)
            await send("PATCH", f"{claims}/cycle-{i}", finalizers, MERGE_PATCH)
            await send("PATCH", f"{claims}/cycle-{i}/status", self.status(i), MERGE_PATCH)

        return await self._run(n, concurrency, one)

    async def release(self, n: int, concurrency: int) -> float:
        """Claims per second through the releasing requests (after :meth:`bind` of ``n``)."""
        none = {"metadata": {"finalizers": None}}

        async def one(send: _Send, i: int) -> None:
            await send("DELETE", f"{self.claims}/cycle-{i}", None, {})
            address = f"{self.addresses}/{self.address_name(i)}"
            await send("DELETE", address, None, {})
            if self.address_finalizer:
                await send("PATCH", address, none, MERGE_PATCH)
            await send("PATCH", f"{self.claims}/cycle-{i}", none, MERGE_PATCH)

        return await self._run(n, concurrency, one)

    async def _run(
        self, n: int, concurrency: int, one: Callable[[_Send, int], Awaitable[None]]
    ) -> float:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(n):
            queue.put_nowait(i)
        failures: list[str] = []

        async def worker(session: aiohttp.ClientSession) -> None:
            async def send(method: str, path: str, body: Any, headers: dict[str, str]) -> None:
                data = None if body is None else json.dumps(body)
                url = f"{self.cp.server}{path}"
                async with session.request(method, url, data=data, headers=headers) as resp:
                    if resp.status not in (200, 201, 202):
                        text = (await resp.text())[:200]
                        failures.append(f"{method} {path}: {resp.status} {text}")
                    await resp.read()

            while not queue.empty():
                await one(send, queue.get_nowait())

        elapsed = await timed_workers(self.cp, concurrency, worker)
        if failures:
            raise RuntimeError(f"{len(failures)} requests failed, the first: {failures[0]}")
        return n / elapsed


_Send = Callable[[str, str, Any, dict[str, str]], Awaitable[None]]


async def bound_claim_cycles(
    cp: ControlPlane, namespace: str, n: int, cluster_api: bool, concurrency: int
) -> float:
    """Claims per second a bare client takes through the requests of one bound claim (see
    :class:`ClaimCycles`; its IPAddresses carry no finalizer)."""
    cycles = ClaimCycles(cp, namespace, cluster_api, address_finalizer=False)
    return await cycles.bind(n, concurrency)


def configmaps(namespace: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "namespace": namespace},
            "data": {"i": str(i)},
        }
        for i in range(n)
    ]


def ipaddresses(namespace: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPAddress",
            "metadata": {
                "name": f"bench-10-{i // 65536}-{i // 256 % 256}-{i % 256}",
                "namespace": namespace,
            },
            "spec": {
                "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "pool": {"name": "bench"},
                "claim": {"name": f"claim-{i}"},
                "prefix": 8,
            },
        }
        for i in range(n)
    ]


def capi_ipaddresses(namespace: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
            "kind": "IPAddress",
            "metadata": {"name": f"bench-{i}", "namespace": namespace},
            "spec": {
                "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "prefix": 8,
                "claimRef": {"name": f"claim-{i}"},
                "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "bench"},
            },
        }
        for i in range(n)
    ]


CAPI_PATH = "/apis/ipam.cluster.x-k8s.io/v1beta2/namespaces/{ns}/ipaddresses"
KINDS = {
    "ConfigMap": ("/api/v1/namespaces/{ns}/configmaps", configmaps),
    "ipam.metal3.io IPAddress": (
        "/apis/ipam.metal3.io/v1alpha1/namespaces/{ns}/ipaddresses",
        ipaddresses,
    ),
    "Cluster API IPAddress": (CAPI_PATH, capi_ipaddresses),
}


def measure(cluster_api: bool, kinds: list[str], n: int, concurrency: int) -> list[tuple[str, str]]:
    """Start a control plane (with or without Cluster API's manager), then create ``kinds``."""
    manager = "with" if cluster_api else "without"
    started = time.perf_counter()
    with ControlPlane("bench", cluster_api=cluster_api) as cp:
        startup = time.perf_counter() - started
        rows = [(f"control plane start {manager} Cluster API's manager", f"{startup:.1f} s")]
        for number, kind in enumerate(kinds):
            ns = f"bench-{number}"
            path, make = KINDS[kind]
            cp.kubectl("create", "namespace", ns)
            rate = asyncio.run(create_many(cp, path.format(ns=ns), make(ns, n), concurrency))
            rows.append(
                (
                    f"raw creates/s, {kind} x{n}, {concurrency} in flight, {manager} manager",
                    f"{rate:,.0f} /s",
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer objects")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n = 500 if args.quick else 2000

    rows = measure(True, list(KINDS), n, args.concurrency)
    rows += measure(False, ["Cluster API IPAddress"], n, args.concurrency)
    print("\nControl plane benchmark")
    for label, value in rows:
        print(f"  {label:<82} {value:>10}")


if __name__ == "__main__":
    main()
