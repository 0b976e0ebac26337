"""What the controller keeps in memory for each IPAddress it knows: bytes per address.

N IPAddress bodies of one pool, shaped as the controller writes them (finalizer, the pool's
and the claim's ownerReferences, labels) and serialised as the API server sends them, are
parsed and observed by a fresh registry, as the watch and the start-up List do. tracemalloc
measures what stays allocated afterwards: the facts, the ledger's holdings and indexes and
every table keyed by the address objects, with the strings they keep from the parsed
bodies. The bodies themselves are dropped, as the controller drops them. The largest
allocation sites are printed with ``--lines``.

Run: ``.venv/bin/python bench/registry_bench.py`` (a few seconds) or ``--quick``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipam.handlers import state
from ipam.kube import bodies, resources

NAMESPACE = "bench"
POOL = "bench-pool"
POOL_UID = "0b5e2c1f-7a4d-4c3e-9f21-5d8a6b1c2e3f"


def address_body(at: int, flavour: resources.Flavour) -> bytes:
    """The JSON of the ``at``-th IPAddress of the pool, as the API server would send it."""
    ip = f"10.{at >> 16 & 255}.{at >> 8 & 255}.{at & 255}"
    claim = f"machine-{at:06d}"
    if flavour.kind == "metal3":
        spec = {
            "address": ip,
            "prefix": 8,
            "pool": {"name": POOL, "namespace": NAMESPACE},
            "claim": {"name": claim, "namespace": NAMESPACE},
        }
        claim_kind = "IPClaim"
    else:
        spec = {
            "address": ip,
            "prefix": 8,
            "poolRef": {"apiGroup": resources.METAL3_GROUP, "kind": "IPPool", "name": POOL},
            "claimRef": {"name": claim},
        }
        claim_kind = "IPAddressClaim"
    body = {
        "apiVersion": f"{flavour.address.group}/{flavour.address.version}",
        "kind": flavour.address.kind,
        "metadata": {
            "name": f"{POOL}-{ip.replace('.', '-')}",
            "namespace": NAMESPACE,
            "uid": f"{at:08x}-4b1d-4e0a-8c7f-{at:012x}",
            "resourceVersion": str(1_000_000 + at),
            "generation": 1,
            "creationTimestamp": f"2026-12-04T12:{at // 6000 % 60:02d}:{at // 100 % 60:02d}Z",
            "finalizers": [flavour.address_finalizer],
            "labels": {"cluster.x-k8s.io/cluster-name": "workload", "ipam.metal3.io/pool": POOL},
            "ownerReferences": [
                {
                    "apiVersion": "ipam.metal3.io/v1alpha1",
                    "kind": "IPPool",
                    "name": POOL,
                    "uid": POOL_UID,
                    "controller": flavour.kind == "metal3",
                    "blockOwnerDeletion": True,
                },
                {
                    "apiVersion": f"{flavour.claim.group}/{flavour.claim.version}",
                    "kind": claim_kind,
                    "name": claim,
                    "uid": f"{at:08x}-9c2e-4f51-a3b7-{at:012x}",
                    "controller": flavour.kind == "capi",
                    "blockOwnerDeletion": True,
                },
            ],
        },
        "spec": spec,
    }
    return orjson.dumps(body)


def measure(count: int, flavour: resources.Flavour, lines: int) -> float:
    """Bytes kept per observed IPAddress; prints the ``lines`` largest allocation sites."""
    raw = [address_body(at, flavour) for at in range(count)]
    registry = state.Registry()
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    for data in raw:
        record = bodies.address_record(flavour, orjson.loads(data))
        registry.observe_address(bodies.address_fact(record))
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = len(registry.pool(NAMESPACE, POOL).facts)
    if held != count:
        raise SystemExit(f"the registry knows {held} of {count} addresses")
    skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(skip).compare_to(before.filter_traces(skip), "lineno")
    per_address = sum(stat.size_diff for stat in diff) / count
    print(
        f"{flavour.address.kind} ({flavour.kind}), {count:,} addresses: {per_address:,.0f} bytes each"
    )
    for stat in diff[:lines]:
        frame = stat.traceback[0]
        where = frame.filename.split("/ipam/")[-1] if "/ipam/" in frame.filename else frame.filename
        print(f"  {stat.size_diff / count:7,.0f} B  {where}:{frame.lineno}")
    return per_address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 addresses")
    parser.add_argument("--lines", type=int, default=0, help="largest allocation sites shown")
    args = parser.parse_args()
    count = 1_000 if args.quick else args.addresses
    print("Registry memory per IPAddress (tracemalloc; bodies parsed, observed, then dropped)")
    for flavour in (resources.METAL3, resources.CAPI):
        measure(count, flavour, args.lines)


if __name__ == "__main__":
    main()
