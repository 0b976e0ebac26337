"""Controller memory, release throughput and restart time at one pool's scale.

One control plane, one controller process under its RBAC, one pool. The controller's
resident memory (``VmRSS`` of ``/proc/<pid>/status``) is read idle, with N claims bound,
right after all of them are deleted and released, and again a while later. Beside it:
claims bound per second while they are created, claims released per second once they are
all deleted at once, and, for a restarted controller on the pool with N held addresses,
the time from its start to a new claim bound, against the time one List of those
addresses takes from Python (the goal: within twice that List).

Beside each RSS reading: what the controller's objects hold and what CPython's allocator
keeps (:mod:`bench.allocator`), so that memory freed but kept is not read as a leak.

``--trace DIR`` runs the controller under tracemalloc and writes a snapshot at each
measurement point, then prints where the memory held with N claims bound was allocated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import allocator
from bench.cluster_bench import ClaimCycles, create_many, ssl_context
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane

GROUP = "/apis/ipam.metal3.io/v1alpha1"
SETTLE = 10.0
"""Seconds given to the controller to finish trailing work before a memory reading."""

TRACED = r"""
import os, runpy, signal, sys, tracemalloc
import ipam.cli, ipam.cli.run, ipam.handlers.run, kopf  # imported untraced: only what runs counts
tracemalloc.start(int(os.environ.get("BENCH_TRACE_FRAMES", "4")))
def _dump(signum, frame):
    path = os.environ["BENCH_TRACE_FILE"]
    tracemalloc.take_snapshot().dump(path + ".tmp")
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR1, _dump)
def _census(signum, frame):
    import collections, gc
    gc.collect()
    objects = gc.get_objects()
    kinds = collections.Counter(type(o).__name__ for o in objects)
    bodies = [o for o in objects if isinstance(o, dict) and "metadata" in o and "apiVersion" in o]
    holders = collections.Counter()
    for body in bodies[:: max(1, len(bodies) // 200)]:
        for ref in gc.get_referrers(body):
            if ref is objects or ref is bodies:
                continue
            what = type(ref).__name__
            if isinstance(ref, dict):
                what += ":" + ",".join(sorted(map(str, list(ref)[:4])))
            elif hasattr(ref, "f_code"):
                what += ":" + ref.f_code.co_name
            holders[what] += 1
    with open(os.environ["BENCH_TRACE_FILE"] + ".census", "w") as out:
        out.write(f"{len(bodies)} bodies ({collections.Counter(b.get('kind') for b in bodies)})\n")
        for what, n in holders.most_common(15):
            out.write(f"  held by {what}: {n}\n")
        for what, n in kinds.most_common(25):
            out.write(f"{what} {n}\n")
signal.signal(signal.SIGUSR2, _census)
sys.argv = ["ipam", *sys.argv[1:]]
runpy.run_module("ipam", run_name="__main__", alter_sys=True)
"""
"""The controller's own entry point under tracemalloc; SIGUSR1 writes a snapshot."""


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status (KiB)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.M)
    if not found:
        raise RuntimeError(f"no VmRSS for {pid}")
    return int(found.group(1))


def claim_bodies(namespace: str, names: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"pool": {"name": "bench"}},
        }
        for name in names
    ]


class ListFailed(RuntimeError):
    """The API server answered a List with an error (a timeout or throttling under load)."""


async def timed_list(cp: ControlPlane, path: str, page: int = 500) -> tuple[int, float]:
    """Items and seconds of one paged List, as a client reads it (JSON parsed)."""
    context: ssl.SSLContext = ssl_context(cp)
    count = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        started = time.perf_counter()
        token = ""
        while True:
            url = f"{cp.server}{path}?limit={page}" + (f"&continue={token}" if token else "")
            async with session.get(url) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise ListFailed(f"GET {path}: HTTP {resp.status}: {data[:300]!r}")
            listed = json.loads(data)
            count += len(listed["items"])
            token = listed["metadata"].get("continue", "")
            if not token:
                return count, time.perf_counter() - started


async def delete_all(cp: ControlPlane, path: str, names: list[str], concurrency: int) -> None:
    """DELETE each object, ``concurrency`` requests in flight (as ``kubectl delete`` would)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)
    connector = aiohttp.TCPConnector(ssl=ssl_context(cp), limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            name = queue.get_nowait()
            async with session.delete(f"{cp.server}{path}/{name}") as resp:
                if resp.status not in (200, 202, 404):
                    raise RuntimeError(f"DELETE {name}: {resp.status} {await resp.text()}")

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


def count(cp: ControlPlane, path: str) -> int:
    return asyncio.run(timed_list(cp, path))[0]


async def wait_bound(cp: ControlPlane, path: str, limit: float, every: float = 0.1) -> float:
    """Seconds until the claim at ``path`` names its IPAddress in its status, read with one
    GET every ``every`` seconds (no List: it would load the server it measures)."""
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context(cp))) as s:
        while True:
            async with s.get(f"{cp.server}{path}") as resp:
                body = json.loads(await resp.read())
            if ((body.get("status") or {}).get("address") or {}).get("name"):
                return time.perf_counter() - started
            if time.perf_counter() - started > limit:
                raise RuntimeError(f"{path}: not bound after {limit:.0f}s")
            await asyncio.sleep(every)


def wait_count(cp: ControlPlane, path: str, done: Callable[[int], bool], limit: float) -> float:
    """Seconds until the number of objects at ``path`` satisfies ``done``.

    Read from the API server, not from the controller's counters: a controller that loses
    its Lease under load and wins it back does not count the claims it had nearly bound.
    """
    started = time.perf_counter()
    found: int | str = "no answer"
    while True:
        try:
            found = count(cp, path)
        except ListFailed as failure:  # a loaded server may refuse one List: ask again
            print(f"  ({failure}; asking again)", flush=True)
        else:
            if done(found):
                return time.perf_counter() - started
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"{path}: {found} objects after {limit:.0f}s")
        time.sleep(1)


def ask(pid: int, signum: int, file: Path, what: str, limit: float) -> None:
    """Signal the controller and wait until it has written ``file`` (removed first)."""
    file.unlink(missing_ok=True)
    os.kill(pid, signum)
    deadline = time.monotonic() + limit
    while not file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} came")
        time.sleep(0.2)


class Traced:
    """Snapshots of the controller's allocations, one per measurement point."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.file = directory / "current.snapshot" if directory else None

    def environment(self) -> dict[str, str]:
        return {"BENCH_TRACE_FILE": str(self.file)} if self.file else {}

    def take(self, pid: int, label: str) -> None:
        if self.file is None or self.directory is None:
            return
        ask(pid, signal.SIGUSR1, self.file, "tracemalloc snapshot", 300)
        self.file.rename(self.directory / f"{label}.snapshot")
        census = Path(f"{self.file}.census")
        ask(pid, signal.SIGUSR2, census, "object census", 300)
        time.sleep(1)
        census.rename(self.directory / f"{label}.census")

    def report(self, before: str, after: str, top: int = 25) -> None:
        if self.directory is None:
            return
        old = tracemalloc.Snapshot.load(str(self.directory / f"{before}.snapshot"))
        new = tracemalloc.Snapshot.load(str(self.directory / f"{after}.snapshot"))
        skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
        old, new = old.filter_traces(skip), new.filter_traces(skip)
        print(f"\nAllocations held at {after!r} and not at {before!r}, by line:")
        for stat in new.compare_to(old, "lineno")[:top]:
            print(f"  {stat}")
        print(f"\nThe same, by traceback (top {top // 3}):")
        for stat in new.compare_to(old, "traceback")[: top // 3]:
            print(f"  {stat.size_diff / 1024:,.0f} KiB in {stat.count_diff:+,} blocks")
            for line in stat.traceback.format()[-12:]:
                print(f"      {line}")


class Allocator:
    """The controller's :func:`bench.allocator.readings`, asked for with SIGUSR2."""

    def __init__(self, directory: Path | None) -> None:
        self.file = directory / "allocator.json" if directory else None
        self.taken: dict[str, dict[str, int]] = {}

    def environment(self) -> dict[str, str]:
        return {"BENCH_ALLOCATOR_FILE": str(self.file)} if self.file else {}

    def take(self, pid: int, label: str) -> None:
        if self.file is None:
            return
        ask(pid, signal.SIGUSR2, self.file, "allocator readings", 60)
        self.taken[label] = json.loads(self.file.read_text())

    def rows(self, idle: str) -> list[tuple[str, str]]:
        """Each reading beside the idle one: objects in use, arenas, C heap, tracked."""
        if idle not in self.taken:
            return []
        base = self.taken[idle]
        rows = [("where the memory is (after a full collection)", "")]
        for label, taken in self.taken.items():
            rows += [
                (
                    f"  {label}: small objects in use / arenas held (KiB)",
                    f"{taken['small_in_use'] // 1024:,} / {taken['arenas'] * 1024:,}",
                ),
                (
                    f"  {label}: C heap / tracked objects",
                    f"{taken['heap_kib']:,} / {taken['tracked']:,}",
                ),
            ]
            if label != idle:
                kept = (taken["small_in_use"] - base["small_in_use"]) // 1024
                held = (taken["arenas"] - base["arenas"]) * 1024
                rows.append(
                    (f"  {label}, over idle: objects / arenas (KiB)", f"{kept:,} / {held:,}")
                )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--later", type=float, default=60.0, help="seconds of the last wait")
    parser.add_argument("--trace", type=Path, help="tracemalloc snapshots into this directory")
    parser.add_argument("--controller-args", default="", help="extra flags, space-separated")
    parser.add_argument("--keep-log", type=Path, help="copy the controller's log here at the end")
    parser.add_argument(
        "--restarts",
        type=int,
        default=3,
        help="restart the controller this many times on the held addresses, a new claim each "
        "time; the ratio reported is the median",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="bind and release the claims this many times in all; from the second round on, "
        "one process: memory kept after a release and reused by the next is not a leak",
    )
    args = parser.parse_args()
    if args.restarts < 1:
        parser.error("--restarts must be at least 1")
    n: int = args.claims
    traced = Traced(args.trace)
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)

    with (
        ControlPlane("bench-memory") as cp,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as stack,
    ):
        probe = Allocator(None if args.trace else Path(tmp))
        namespace = "bench-memory"
        cp.kubectl("create", "namespace", namespace)
        cp.apply(
            "apiVersion: ipam.metal3.io/v1alpha1\nkind: IPPool\n"
            f"metadata: {{name: bench, namespace: {namespace}}}\n"
            "spec: {namePrefix: bench, pools: [{subnet: 10.0.0.0/8}], prefix: 8}\n"
        )
        claims_path = f"{GROUP}/namespaces/{namespace}/ipclaims"
        addresses_path = f"{GROUP}/namespaces/{namespace}/ipaddresses"
        extra = args.controller_args.split()
        runner = ControllerRunner(cp, Path(tmp), name="memory", extra_args=extra)
        # ``python -m ipam run ...`` becomes ``python -c WRAPPER run ...``, the same entry
        # point with a signal handler; the extra flags are added again by the runner.
        wrapper = TRACED if args.trace else allocator.WRAPPER
        argv = runner.argv
        runner.command = [sys.executable, "-c", wrapper, *argv[3 : len(argv) - len(extra)]]
        os.environ.update(traced.environment() if args.trace else probe.environment())

        def start() -> tuple[int, float]:
            runner.start()
            started = time.perf_counter()
            if not runner.wait_for_log("Controller running", timeout=300):
                raise RuntimeError(f"the controller did not start:\n{runner.log_tail(40)}")
            pid = runner.pid
            if pid is None:
                raise RuntimeError(f"the controller exited:\n{runner.log_tail(40)}")
            return pid, started

        print(f"\nController memory and release benchmark ({n:,} IPClaims on one pool)")

        def show(label: str, value: str) -> None:
            load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            print(f"  {label:<56} {value:>14}   (load {load})", flush=True)

        if args.keep_log:
            keep = args.keep_log
            stack.callback(lambda: runner.log_path.exists() and shutil.copy(runner.log_path, keep))
        pid, _ = start()
        time.sleep(SETTLE)
        gc.collect()
        rows: list[tuple[str, str]] = []
        idle = rss_kib(pid)
        show("RSS idle (KiB)", f"{idle:,}")
        traced.take(pid, "idle")
        probe.take(pid, "idle")

        created = time.perf_counter()
        names = [f"claim-{i}" for i in range(n)]
        asyncio.run(create_many(cp, claims_path, claim_bodies(namespace, names), args.concurrency))
        wait_count(cp, addresses_path, lambda found: found >= n, max(900.0, n))
        bind_seconds = time.perf_counter() - created
        time.sleep(SETTLE)
        bound = rss_kib(pid)
        show(f"claims bound/s ({n:,} created)", f"{n / bind_seconds:,.1f}")
        show(f"RSS with {n:,} claims bound (KiB)", f"{bound:,}")
        show("  RSS per bound claim (bytes)", f"{(bound - idle) * 1024 / n:,.0f}")
        traced.take(pid, "bound")
        probe.take(pid, "bound")

        # A restart on a pool with n held addresses: one List of them, then a new claim
        # created while the controller is down, bound after its start. Repeated: one List's
        # time alone varies by half from one to the next on a shared machine.
        restarts: list[tuple[float, float]] = []
        new_names = [f"claim-new-{i}" for i in range(args.restarts)]
        restart_log: list[str] = []
        for new_name in new_names:
            # The yardstick is the median of three Lists: one alone varies by half.
            lists = [asyncio.run(timed_list(cp, addresses_path)) for _ in range(3)]
            held = lists[-1][0]
            list_seconds = sorted(seconds for _, seconds in lists)[1]
            runner.stop()
            asyncio.run(create_many(cp, claims_path, claim_bodies(namespace, [new_name]), 1))
            runner.start()
            process_started = time.perf_counter()
            asyncio.run(wait_bound(cp, f"{claims_path}/{new_name}", 600))
            restart_seconds = time.perf_counter() - process_started
            restarts.append((list_seconds, restart_seconds))
            if runner.pid is None:
                raise RuntimeError(f"the controller exited:\n{runner.log_tail(40)}")
            show(f"one List of {held:,} IPAddresses, median of 3 (s)", f"{list_seconds:.2f}")
            show("restart: process start to new claim bound (s)", f"{restart_seconds:.2f}")
            tail = runner.log_tail(400)
            tail = tail[tail.rfind("--- ") :]
            restart_log = [
                line
                for line in tail.splitlines()
                if re.search(
                    r"start:|answers|Leader|leader|Lease|Read \d+|Listed|running|allocated",
                    line,
                )
            ][:12]
        if runner.pid is None:
            raise RuntimeError(f"the controller exited:\n{runner.log_tail(40)}")
        pid = runner.pid
        ratios = sorted(restart / listing for listing, restart in restarts)
        median_ratio = ratios[len(ratios) // 2]
        time.sleep(SETTLE)
        restarted_rss = rss_kib(pid)

        deleted = time.perf_counter()
        asyncio.run(delete_all(cp, claims_path, [*names, *new_names], args.concurrency))
        wait_count(cp, claims_path, lambda found: found == 0, max(900.0, n))
        release_seconds = time.perf_counter() - deleted
        released = n + len(new_names)
        show(f"claims released/s ({released:,} deleted)", f"{released / release_seconds:,.1f}")
        while count(cp, claims_path):
            if time.perf_counter() - deleted > max(900.0, n):
                raise RuntimeError("claims still exist")
            time.sleep(1)
        gone_seconds = time.perf_counter() - deleted
        left = count(cp, addresses_path)
        time.sleep(SETTLE)
        after = rss_kib(pid)
        show("RSS right after all are released (KiB)", f"{after:,}")
        traced.take(pid, "deleted")
        probe.take(pid, "released")
        time.sleep(args.later)
        later = rss_kib(pid)
        probe.take(pid, f"{args.later:.0f}s later")
        again: list[tuple[str, str]] = []
        for round_ in range(2, args.rounds + 1):
            names = [f"claim-{round_}-{i}" for i in range(n)]
            bodies = claim_bodies(namespace, names)
            asyncio.run(create_many(cp, claims_path, bodies, args.concurrency))
            wait_count(cp, addresses_path, lambda found: found >= n, max(900.0, n))
            time.sleep(SETTLE)
            again.append(
                (f"round {round_}: RSS with {n:,} claims bound (KiB)", f"{rss_kib(pid):,}")
            )
            show(*again[-1])
            asyncio.run(delete_all(cp, claims_path, names, args.concurrency))
            wait_count(cp, addresses_path, lambda found: found == 0, max(900.0, n))
            wait_count(cp, claims_path, lambda found: found == 0, max(900.0, n))
            time.sleep(SETTLE)
            again.append((f"round {round_}: RSS after all are released (KiB)", f"{rss_kib(pid):,}"))
            show(*again[-1])
        runner.stop()
        # The server's own rate for the same requests, with no controller running: what a
        # bare client takes to bind and to release that many claims (at most 2,000).
        cp.kubectl("create", "namespace", "bench-bare")
        cycles = ClaimCycles(cp, "bench-bare", False, address_finalizer=True)
        bare_n = min(n, 2000)
        bare_bind = asyncio.run(cycles.bind(bare_n, args.concurrency))
        bare_release = asyncio.run(cycles.release(bare_n, args.concurrency))
        show(f"a bare client, same requests: bound/s ({bare_n:,})", f"{bare_bind:,.1f}")
        show(f"a bare client, same requests: released/s ({bare_n:,})", f"{bare_release:,.1f}")
        load = Path("/proc/loadavg").read_text().split()[:3]

        per_claim = (bound - idle) * 1024 / n
        rows += [
            ("RSS idle (KiB)", f"{idle:,}"),
            (f"RSS with {n:,} claims bound (KiB)", f"{bound:,}"),
            ("  RSS per bound claim (bytes; goal <= 4096)", f"{per_claim:,.0f}"),
            (f"RSS after a restart, {held:,} held (KiB)", f"{restarted_rss:,}"),
            ("  per held address over idle (bytes)", f"{(restarted_rss - idle) * 1024 / n:,.0f}"),
            ("RSS right after all are released (KiB)", f"{after:,}"),
            (f"RSS {args.later:.0f}s later (KiB)", f"{later:,}"),
            *again,
            *probe.rows("idle"),
            (
                f"claims bound/s ({n:,} created, {args.concurrency} in flight)",
                f"{n / bind_seconds:,.1f}",
            ),
            (
                f"claims released/s ({released:,} deleted, {args.concurrency} in flight)",
                f"{released / release_seconds:,.1f}",
            ),
            ("  released/s ÷ bound/s", f"{(released / release_seconds) / (n / bind_seconds):.2f}"),
            ("  seconds until every claim object is gone", f"{gone_seconds:,.1f}"),
            ("  IPAddresses left after", f"{left:,}"),
            (
                f"a bare client through the same requests, {bare_n:,} claims: bound/s",
                f"{bare_bind:,.1f}",
            ),
            ("  ours ÷ the bare client's, binding", f"{(n / bind_seconds) / bare_bind:.2f}"),
            ("a bare client: released/s", f"{bare_release:,.1f}"),
            (
                "  ours ÷ the bare client's, releasing",
                f"{(released / release_seconds) / bare_release:.2f}",
            ),
            *(
                (
                    f"restart {i}: List of {held:,} (median of 3) / new claim bound (s)",
                    f"{listing:.2f} / {restart:.2f}",
                )
                for i, (listing, restart) in enumerate(restarts, 1)
            ),
            (
                f"  median ratio of {len(ratios)} (goal <= 2)",
                f"{median_ratio:.2f}",
            ),
            ("load average at the end (1, 5, 15 min)", " ".join(load)),
        ]
        print("\nSummary")
        for label, value in rows:
            print(f"  {label:<56} {value:>14}")
        for line in restart_log:
            print(f"  restart log: {line[:150]}")
        traced.report("idle", "bound")
        traced.report("idle", "deleted", top=10)


if __name__ == "__main__":
    main()
