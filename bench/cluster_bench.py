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
    connector = aiohttp.TCPConnector(ssl=ssl_context(cp), limit=concurrency)
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

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} creates failed")
    return len(bodies) / elapsed


MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


async def bound_claim_cycles(
    cp: ControlPlane, namespace: str, n: int, cluster_api: bool, concurrency: int
) -> float:
    """Claims per second a bare client takes through the requests of one bound claim.

    Per claim, one after the other: create the claim (what a user does), create its
    IPAddress, put the finalizer on the claim, write the claim's status; ``concurrency``
    claims at a time. No controller and no watch: the API server's own rate for exactly
    what binding a claim asks of it. The claims name a pool ``cycle`` that need not exist.
    """
    if cluster_api:
        group, claim_kind = "ipam.cluster.x-k8s.io/v1beta2", "IPAddressClaim"
        claims = f"/apis/{group}/namespaces/{namespace}/ipaddressclaims"
        finalizer = "ipam.metal3.io/ipaddressclaim"
    else:
        group, claim_kind = "ipam.metal3.io/v1alpha1", "IPClaim"
        claims = f"/apis/{group}/namespaces/{namespace}/ipclaims"
        finalizer = "ipclaim.ipam.metal3.io"
    addresses = f"/apis/{group}/namespaces/{namespace}/ipaddresses"

    def claim(i: int) -> dict[str, Any]:
        pool: dict[str, Any] = {"name": "cycle"}
        if cluster_api:
            spec: dict[str, Any] = {
                "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", **pool}
            }
        else:
            spec = {"pool": pool}
        meta = {"name": f"cycle-{i}", "namespace": namespace}
        return {"apiVersion": group, "kind": claim_kind, "metadata": meta, "spec": spec}

    def address(i: int) -> dict[str, Any]:
        text = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        name = f"cycle-{text.replace('.', '-')}"
        if cluster_api:
            spec = {
                "address": text,
                "prefix": 8,
                "claimRef": {"name": f"cycle-{i}"},
                "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "cycle"},
            }
        else:
            spec = {
                "address": text,
                "prefix": 8,
                "pool": {"name": "cycle"},
                "claim": {"name": f"cycle-{i}"},
            }
        return {
            "apiVersion": group,
            "kind": "IPAddress",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }

    def status(i: int) -> dict[str, Any]:
        name = address(i)["metadata"]["name"]
        if cluster_api:
            return {"status": {"addressRef": {"name": name}}}
        return {"status": {"address": {"name": name, "namespace": namespace}}}

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    failures: list[str] = []

    async def send(
        session: aiohttp.ClientSession, method: str, path: str, body: Any, headers: dict[str, str]
    ) -> None:
        async with session.request(
            method, f"{cp.server}{path}", data=json.dumps(body), headers=headers
        ) as resp:
            if resp.status not in (200, 201):
                failures.append(f"{method} {path}: {resp.status} {(await resp.text())[:200]}")
            await resp.read()

    async def worker(session: aiohttp.ClientSession) -> None:
        json_body = {"Content-Type": "application/json"}
        while not queue.empty():
            i = queue.get_nowait()
            await send(session, "POST", claims, claim(i), json_body)
            await send(session, "POST", addresses, address(i), json_body)
            finalizers = {"metadata": {"finalizers": [finalizer]}}
            await send(session, "PATCH", f"{claims}/cycle-{i}", finalizers, MERGE_PATCH)
            await send(session, "PATCH", f"{claims}/cycle-{i}/status", status(i), MERGE_PATCH)

    connector = aiohttp.TCPConnector(ssl=ssl_context(cp), limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, the first: {failures[0]}")
    return n / elapsed


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
