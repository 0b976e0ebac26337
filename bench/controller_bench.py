"""Controller figures: claims bound per second, beside the raw write rate of the same server.

One control plane, one run. First the raw create rate of IPAddress objects from Python
(the physical limit, measured as in ``cluster_bench``); then, for each size, that many
IPClaims are created while the controller is stopped, the controller is started under
its RBAC, and the time from "Controller running" to the last claim bound is taken. The
API server's own request counters (``apiserver_request_total``) give the writes the
controller made, so writes per claim is measured, not estimated. The goal the project
sets: bound claims per second at least half of raw writes per second / writes per claim.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures
from bench.cluster_bench import create_many, ipaddresses, ssl_context
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane

LEASE_WRITES_PER_SECOND = 1.0
"""The controller renews its Lease about every two seconds; the harness writes nothing."""


def write_counts(cp: ControlPlane) -> Counter[str]:
    """Write requests the API server has answered since it started, by verb and resource."""
    request = urllib.request.Request(f"{cp.server}/metrics")
    with urllib.request.urlopen(request, context=ssl_context(cp), timeout=30) as response:
        return figures.write_counts(response.read().decode())


def settled_write_counts(
    cp: ControlPlane, quiet: float = 2.0, limit: float = 120.0
) -> Counter[str]:
    """The write counts once only the Lease renewals still write (Events and pool status
    writes trail the last binding), or after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    last = write_counts(cp)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = write_counts(cp)
        if now.total() - last.total() <= LEASE_WRITES_PER_SECOND * quiet:
            return now
        last = now
    return last


def claims(namespace: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": f"claim-{i}", "namespace": namespace},
            "spec": {"pool": {"name": "bench"}},
        }
        for i in range(n)
    ]


def bound_claims(runner: ControllerRunner) -> int:
    """Allocations the controller has made so far, from its own /metrics."""
    url = f"http://127.0.0.1:{runner.metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    found = re.search(r'^ipam_allocations_total\{kind="metal3"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def measure(cp: ControlPlane, n: int, concurrency: int, workdir: Path) -> dict[str, float]:
    namespace = f"bench-claims-{n}"
    cp.kubectl("create", "namespace", namespace)
    cp.apply(
        "apiVersion: ipam.metal3.io/v1alpha1\nkind: IPPool\n"
        f"metadata: {{name: bench, namespace: {namespace}}}\n"
        "spec: {namePrefix: bench, pools: [{subnet: 10.0.0.0/8}], prefix: 8}\n"
    )
    path = f"/apis/ipam.metal3.io/v1alpha1/namespaces/{namespace}/ipclaims"
    asyncio.run(create_many(cp, path, claims(namespace, n), concurrency))
    runner = ControllerRunner(cp, workdir, name=f"bench-{n}")
    writes_before = write_counts(cp)
    runner.start()
    try:
        if not runner.wait_for_log("Controller running", timeout=120):
            raise RuntimeError(f"the controller did not start:\n{runner.log_tail(40)}")
        started = time.perf_counter()
        deadline = started + max(120.0, n / 5)
        while (done := bound_claims(runner)) < n:
            if time.perf_counter() > deadline or not runner.running:
                raise RuntimeError(f"only {done} of {n} bound:\n{runner.log_tail(40)}")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        writes = settled_write_counts(cp)
        writes.subtract(writes_before)
    finally:
        runner.stop()
    listed = cp.get_json("ipclaims.ipam.metal3.io", "-n", namespace)["items"]
    unbound = [c["metadata"]["name"] for c in listed if not (c.get("status") or {}).get("address")]
    if unbound:
        raise RuntimeError(f"{len(unbound)} claims are not bound, e.g. {unbound[:5]}")
    return {
        "seconds": elapsed,
        "per_second": n / elapsed,
        "writes_per_claim": writes.total() / n,
        **{f"  {what}": count / n for what, count in sorted(writes.items()) if count},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 claims only")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    sizes = (1000,) if args.quick else (1000, 10000)

    with ControlPlane("bench-controller") as cp, tempfile.TemporaryDirectory() as tmp:
        cp.kubectl("create", "namespace", "bench-raw")
        raw_path = "/apis/ipam.metal3.io/v1alpha1/namespaces/bench-raw/ipaddresses"
        raw = asyncio.run(create_many(cp, raw_path, ipaddresses("bench-raw", 2000), 32))
        print("\nController benchmark (one control plane, one run)")
        print(f"  {'raw IPAddress creates/s from Python, 32 in flight':<58} {raw:>10,.0f} /s")
        for n in sizes:
            got = measure(cp, n, args.concurrency, Path(tmp))
            limit = raw / got["writes_per_claim"]
            print(
                f"  {f'claims bound/s, {n:,} IPClaims on one pool':<58} {got['per_second']:>10,.0f} /s"
            )
            print(
                f"  {'  API writes per bound claim (apiserver counters)':<58} {got['writes_per_claim']:>10.2f}"
            )
            for what in sorted(k for k in got if k.startswith("  ")):
                print(f"  {'  ' + what:<58} {got[what]:>10.2f}")
            print(f"  {'  raw writes/s / writes per claim':<58} {limit:>10,.0f} /s")
            print(
                f"  {'  ratio bound/s : that limit (goal >= 0.5)':<58} {got['per_second'] / limit:>10.2f}"
            )


if __name__ == "__main__":
    main()
