"""What the controller keeps in memory for each IPAddress it knows: bytes per address.

N IPAddress bodies of one pool, made by the controller's own body builder (finalizer, the
pool's and the claim's ownerReferences, the claim's labels) with the fields the API server
adds, serialised as it sends them, are
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

from ipam.core import names
from ipam.handlers import state
from ipam.kube import bodies, resources

NAMESPACE = "bench"
POOL = "bench-pool"
POOL_UID = "0b5e2c1f-7a4d-4c3e-9f21-5d8a6b1c2e3f"


POOL_RECORD = bodies.pool_record(
    {
        "metadata": {"name": POOL, "namespace": NAMESPACE, "uid": POOL_UID},
        "spec": {"namePrefix": POOL, "pools": [{"subnet": "10.0.0.0/8"}], "prefix": 8},
    }
)


def address_body(at: int, flavour: resources.Flavour) -> bytes:
    """The JSON of the ``at``-th IPAddress of the pool: the body the controller creates for
    a claim (:func:`bodies.address_body`), with what the API server adds to it."""
    host = at + 1  # the subnet's own address is not handed out
    ip = f"10.{host >> 16 & 255}.{host >> 8 & 255}.{host & 255}"
    claim = bodies.claim_record(
        flavour,
        {
            "metadata": {
                "name": f"machine-{at:06d}",
                "namespace": NAMESPACE,
                "uid": f"{at:08x}-9c2e-4f51-a3b7-{at:012x}",
                "labels": {"cluster.x-k8s.io/cluster-name": "workload"},
            }
        },
    )
    details = POOL_RECORD.pool.details_for(ip)
    assert details is not None
    body = bodies.address_body(
        POOL_RECORD, claim, details, names.address_object_name(POOL, details.address)
    )
    body["metadata"] |= {
        "uid": f"{at:08x}-4b1d-4e0a-8c7f-{at:012x}",
        "resourceVersion": str(1_000_000 + at),
        "generation": 1,
        "creationTimestamp": f"2026-12-04T12:{at // 6000 % 60:02d}:{at // 100 % 60:02d}Z",
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
