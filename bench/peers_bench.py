"""Side by side: upstream Metal3 IPAM, the in-cluster provider and ours filling one pool each.

One control plane, one run, one controller at a time. First the raw create rate of the
server for each kind of address object (the physical limit); then, for each size, each
controller in turn gets a fresh namespace holding one pool and that many claims, created
while no controller runs, and is started: upstream Metal3 IPAM (v1.13.2, its defaults)
with IPClaims; the Cluster API in-cluster provider (v1.1.0-rc.1) with Cluster API
IPAddressClaims on an InClusterIPPool; ours with IPClaims; ours with Cluster API claims
on an IPPool. A watch on the claims notes when each is first seen bound, from the moment
the controller process starts. The API server's ``apiserver_request_total`` before and
after gives the writes; /proc of the controller process its CPU time (utime + stime) and
peak RSS (VmHWM). Prints the table and the goals, and writes the table, the raw figures
and a plot of claims bound over time into ``--out``.

Peers run earlier than ours at each size, so ours meet the larger store. A controller that
has not bound every claim after ``--timeout`` seconds is stopped and reported with what it
bound so far (the ratio against it is then a bound on the true one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures
from bench.cluster_bench import (
    bound_claim_cycles,
    capi_ipaddresses,
    create_many,
    ipaddresses,
    ssl_context,
)
from bench.controller_bench import claims as metal3_claims
from e2e import peers
from e2e.controller import ControllerRunner, install_rbac
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO

DEFAULT_OUT = REPO / "bench" / "results"
METAL3_CLAIMS = "/apis/ipam.metal3.io/v1alpha1/namespaces/{ns}/ipclaims"
CAPI_CLAIMS = "/apis/ipam.cluster.x-k8s.io/v1beta2/namespaces/{ns}/ipaddressclaims"
QUIET_WRITES_PER_SECOND = 1.0
"""Writes per second below which a controller's work counts as finished (Lease renewals)."""


# --- what each controller is given ------------------------------------------------------------


def metal3_pool(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {"namePrefix": "bench", "pools": [{"subnet": "10.0.0.0/8"}], "prefix": 8},
    }


def incluster_pool(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1alpha2",
        "kind": "InClusterIPPool",
        "metadata": {"name": "bench", "namespace": namespace},
        "spec": {"addresses": ["10.0.0.0/8"], "prefix": 8},
    }


def capi_claims(namespace: str, n: int, group: str, kind: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
            "kind": "IPAddressClaim",
            "metadata": {"name": f"claim-{i}", "namespace": namespace},
            "spec": {"poolRef": {"apiGroup": group, "kind": kind, "name": "bench"}},
        }
        for i in range(n)
    ]


def metal3_bound(claim: dict[str, Any]) -> bool:
    return bool(((claim.get("status") or {}).get("address") or {}).get("name"))


def capi_bound(claim: dict[str, Any]) -> bool:
    return bool(((claim.get("status") or {}).get("addressRef") or {}).get("name"))


class Started:
    """A running controller: its process id and how to stop it and read its log."""

    def __init__(
        self,
        pid: int,
        stop: Callable[[], None],
        running: Callable[[], bool],
        log: Callable[[], str],
    ) -> None:
        self.pid = pid
        self.stop = stop
        self.running = running
        self.log_tail = log


@dataclass(frozen=True)
class Contender:
    """One controller of the comparison and the objects it is given."""

    name: str
    claims_path: str
    pool: Callable[[str], dict[str, Any]]
    claims: Callable[[str, int], list[dict[str, Any]]]
    is_bound: Callable[[dict[str, Any]], bool]
    start: Callable[[ControlPlane, str, Path], Started]


def _start_ours(cp: ControlPlane, namespace: str, workdir: Path) -> Started:
    runner = ControllerRunner(
        cp, workdir, name=namespace, namespaces=[namespace], lease_name=f"bench-{namespace}"
    )
    runner.start(rbac=False)  # applied once before the benchmark: those are not its writes
    if runner.pid is None:
        raise RuntimeError("the controller did not start")
    return Started(runner.pid, runner.stop, lambda: runner.running, lambda: runner.log_tail(40))


def _start_peer(process: peers.PeerProcess) -> Started:
    # Started without waiting for readiness: the clock runs from the process's start.
    process.process.start()
    pid = process.process.pid
    if pid is None:
        raise RuntimeError(f"{process.peer.name} did not start")
    return Started(pid, process.stop, lambda: process.running, lambda: process.log_tail(40))


def _start_upstream(cp: ControlPlane, namespace: str, workdir: Path) -> Started:
    peer = peers.built_peer(peers.METAL3_IPAM)
    assert peer is not None
    return _start_peer(peers.metal3_ipam(cp, workdir, namespace=namespace, peer=peer))


def _start_incluster(cp: ControlPlane, namespace: str, workdir: Path) -> Started:
    peer = peers.built_peer(peers.INCLUSTER)
    assert peer is not None
    return _start_peer(peers.incluster(cp, workdir, namespace=namespace, peer=peer))


UPSTREAM = Contender(
    figures.UPSTREAM, METAL3_CLAIMS, metal3_pool, metal3_claims, metal3_bound, _start_upstream
)
INCLUSTER = Contender(
    figures.INCLUSTER,
    CAPI_CLAIMS,
    incluster_pool,
    lambda ns, n: capi_claims(ns, n, "ipam.cluster.x-k8s.io", "InClusterIPPool"),
    capi_bound,
    _start_incluster,
)
OURS_METAL3 = Contender(
    figures.OURS_METAL3, METAL3_CLAIMS, metal3_pool, metal3_claims, metal3_bound, _start_ours
)
OURS_CAPI = Contender(
    figures.OURS_CAPI,
    CAPI_CLAIMS,
    metal3_pool,
    lambda ns, n: capi_claims(ns, n, "ipam.metal3.io", "IPPool"),
    capi_bound,
    _start_ours,
)
CONTENDERS = {
    "upstream": UPSTREAM,
    "incluster": INCLUSTER,
    "ours-metal3": OURS_METAL3,
    "ours-capi": OURS_CAPI,
}
PEER_OF = {"upstream": peers.METAL3_IPAM, "incluster": peers.INCLUSTER}


# --- observing --------------------------------------------------------------------------------


def server_writes(cp: ControlPlane) -> Counter[str]:
    with urllib.request.urlopen(f"{cp.server}/metrics", context=ssl_context(cp), timeout=30) as r:
        return figures.write_counts(r.read().decode())


def settled_writes(cp: ControlPlane, quiet: float = 3.0, limit: float = 120.0) -> Counter[str]:
    """The write counters once the server is nearly quiet (pool status writes and Events
    trail the last binding), or after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    last = server_writes(cp)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = server_writes(cp)
        if now.total() - last.total() <= QUIET_WRITES_PER_SECOND * quiet:
            return now
        last = now
    return last


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_age(pid: int) -> float:
    """Seconds since the process started (its start time in /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return time.clock_gettime(time.CLOCK_BOOTTIME) - started


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class BindingWatch:
    """Watches a namespace's claims and notes when each is first seen bound."""

    def __init__(
        self, cp: ControlPlane, path: str, is_bound: Callable[[dict[str, Any]], bool]
    ) -> None:
        self.url = f"{cp.server}{path}"
        self.ssl: ssl.SSLContext = ssl_context(cp)
        self.is_bound = is_bound
        self.origin = time.perf_counter()
        self.bound_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="binding-watch", daemon=True)

    def _get(self, url: str, timeout: float) -> Any:
        return urllib.request.urlopen(url, context=self.ssl, timeout=timeout)

    def _list(self) -> str:
        with self._get(self.url, 120) as response:
            listed = json.load(response)
        for claim in listed["items"]:
            self._see(claim)
        return str(listed["metadata"]["resourceVersion"])

    def _see(self, claim: dict[str, Any]) -> None:
        name = claim["metadata"]["name"]
        if name not in self.bound_at and self.is_bound(claim):
            self.bound_at[name] = time.perf_counter() - self.origin

    def start(self, origin: float) -> BindingWatch:
        self.origin = origin
        self._version = self._list()
        self._thread.start()
        return self

    def _run(self) -> None:
        version = self._version
        while not self._stop.is_set():
            url = f"{self.url}?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion={version}"
            try:
                with self._get(url, 90) as response:
                    for line in response:
                        event = json.loads(line)
                        if event["type"] == "ERROR":  # expired: list again
                            version = self._list()
                            break
                        version = event["object"]["metadata"]["resourceVersion"]
                        if event["type"] in ("ADDED", "MODIFIED"):
                            self._see(event["object"])
                        if self._stop.is_set():
                            return
            except (OSError, ValueError):
                time.sleep(0.5)

    @property
    def count(self) -> int:
        return len(self.bound_at)

    def stop(self) -> None:
        self._stop.set()


class Profiler:
    """py-spy recording a process's stacks (collapsed, flamegraph input) until stopped."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        exe = Path(sys.executable).parent / "py-spy"
        self.process = subprocess.Popen(
            [str(exe), "record", "--pid", str(pid), "--format", "raw", "--rate", "50",
             "--nonblocking", "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def fill(
    cp: ControlPlane,
    contender: Contender,
    namespace: str,
    n: int,
    workdir: Path,
    *,
    timeout: float,
    concurrency: int = 32,
    profile: Path | None = None,
) -> figures.Run:
    """Create the pool and ``n`` claims in ``namespace`` (which exists), then start the
    controller and observe it until every claim is bound or ``timeout`` passes."""
    cp.apply(json.dumps(contender.pool(namespace)))
    asyncio.run(
        create_many(
            cp,
            contender.claims_path.format(ns=namespace),
            contender.claims(namespace, n),
            concurrency,
        )
    )
    watch = BindingWatch(cp, contender.claims_path.format(ns=namespace), contender.is_bound)
    before = server_writes(cp)
    started = contender.start(cp, namespace, workdir)
    origin = time.perf_counter() - process_age(started.pid)
    profiler = Profiler(started.pid, profile) if profile else None
    try:
        watch.start(origin)
        deadline = origin + timeout
        at_first: float | None = None  # CPU when the first bound claim is seen
        while watch.count < n and time.perf_counter() < deadline:
            if not started.running():
                raise RuntimeError(f"{contender.name} exited:\n{started.log_tail()}")
            if at_first is None and watch.count:
                at_first = cpu_seconds(started.pid)
            time.sleep(0.2)
        at_last = cpu_seconds(started.pid)
        timed_out = watch.count < n
        after = server_writes(cp) if timed_out else settled_writes(cp)
        cpu, rss = cpu_seconds(started.pid), peak_rss_bytes(started.pid)
    finally:
        watch.stop()
        if profiler:
            profiler.stop()
        started.stop()
    return figures.Run(
        controller=contender.name,
        claims=n,
        bound_at=sorted(watch.bound_at.values()),
        writes=figures.writes_between(before, after),
        cpu_seconds=cpu,
        peak_rss_bytes=rss,
        timed_out=timed_out,
        burst_cpu_seconds=None if at_first is None else at_last - at_first,
    )


def raw_rates(cp: ControlPlane, n: int, namespace: str, concurrency: int = 32) -> dict[str, float]:
    """Creates per second of each kind of address object into ``namespace`` (which exists),
    ``concurrency`` in flight."""
    metal3 = "/apis/ipam.metal3.io/v1alpha1/namespaces/{ns}/ipaddresses"
    capi = "/apis/ipam.cluster.x-k8s.io/v1beta2/namespaces/{ns}/ipaddresses"
    return {
        kind: asyncio.run(
            create_many(cp, path.format(ns=namespace), make(namespace, n), concurrency)
        )
        for kind, path, make in (
            ("ipam.metal3.io IPAddress", metal3, ipaddresses),
            ("Cluster API IPAddress", capi, capi_ipaddresses),
        )
    }


def raw_cycles(cp: ControlPlane, n: int, namespace: str, concurrency: int = 32) -> dict[str, float]:
    """Claims per second a bare client takes through the requests of one bound claim, by
    the kind of claim (see :func:`bench.cluster_bench.bound_claim_cycles`)."""
    return {
        kind: asyncio.run(bound_claim_cycles(cp, namespace, n, cluster_api, concurrency))
        for kind, cluster_api in (("IPClaim", False), ("Cluster API IPAddressClaim", True))
    }


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# --- the plot ---------------------------------------------------------------------------------


def plot(results: figures.Results, path: Path) -> None:
    """Claims bound over time, one panel per size, one line per controller."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results.sizes
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 4.5), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        for run in (r for r in results.runs if r.claims == n):
            xs = [0.0, *run.bound_at]
            ys = list(range(len(xs)))
            label = f"{run.controller} ({run.per_second:,.1f}/s)" + (
                "" if run.complete else ", stopped"
            )
            ax.step(xs, ys, where="post", label=label)
        ax.set_title(f"{n:,} claims on one pool")
        ax.set_xlabel("seconds since the controller started")
        ax.set_ylabel("claims bound")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Claims bound over time, one control plane, one controller at a time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the whole benchmark ----------------------------------------------------------------------


def missing_peers(names: Sequence[str]) -> list[str]:
    return [PEER_OF[n] for n in names if n in PEER_OF and peers.built_peer(PEER_OF[n]) is None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 claims only, to try it out")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="claims per run, e.g. 1000,10000 (the default)",
    )
    parser.add_argument(
        "--controllers",
        default=",".join(CONTENDERS),
        help=f"which, in order (default: {','.join(CONTENDERS)})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=0,
        help="seconds one controller gets (default: max(600, 0.3 s per claim))",
    )
    parser.add_argument(
        "--peer-timeout", type=float, default=0, help="seconds a peer gets (default: --timeout)"
    )
    parser.add_argument(
        "--raw",
        type=int,
        default=0,
        help="objects per raw create measurement (default 2000; --quick 200)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record our controller with py-spy during its largest run",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where the table, figures and plot go"
    )
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="only print and plot a saved run into --out"
    )
    args = parser.parse_args(argv)
    if args.report:
        write(figures.Results.from_json(json.loads(args.report.read_text())), args.out)
        return 0
    names = args.controllers.split(",")
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        parser.error(f"unknown controllers {unknown}; known: {', '.join(CONTENDERS)}")
    sizes = args.sizes or ([200] if args.quick else [1000, 10000])
    missing = missing_peers(names)
    if missing:
        print(
            f"\nSide-by-side benchmark not run: {', '.join(missing)} not built. "
            "`make bench` and `make bench-peers` build them (tens of minutes on a loaded "
            "machine, cached afterwards), as does `make peers`."
        )
        return 2
    raw_n = args.raw or (200 if args.quick else 2000)

    args.out.mkdir(parents=True, exist_ok=True)
    results = figures.Results(raw_rates={})
    loads = [load_average()]
    with ControlPlane("bench-peers") as cp, tempfile.TemporaryDirectory() as tmp:
        if "incluster" in names:
            incluster = peers.built_peer(peers.INCLUSTER)
            assert incluster is not None
            peers.install_crds(cp, peers.incluster_crds(incluster))
        if any(name.startswith("ours") for name in names):
            install_rbac(cp)
        cp.kubectl("create", "namespace", "bench-raw")
        results.raw_rates = raw_rates(cp, raw_n, "bench-raw")
        print(f"raw creates/s: {results.raw_rates}", flush=True)
        results.raw_cycles = raw_cycles(cp, raw_n, "bench-raw")
        print(f"bare client, claims bound/s: {results.raw_cycles}", flush=True)
        for n in sizes:
            timeout = args.timeout or max(600.0, 0.3 * n)
            for name in names:
                limit = args.peer_timeout if args.peer_timeout and name in PEER_OF else timeout
                namespace = f"bench-{name}-{n}"
                cp.kubectl("create", "namespace", namespace)
                profile = (
                    args.out / f"profile-{name}-{n}.txt"
                    if args.profile and name.startswith("ours") and n == max(sizes)
                    else None
                )
                print(f"{time.strftime('%H:%M:%S')} {name}: {n:,} claims ...", flush=True)
                run = fill(
                    cp,
                    CONTENDERS[name],
                    namespace,
                    n,
                    Path(tmp) / namespace,
                    timeout=limit,
                    profile=profile,
                )
                results.runs.append(run)
                loads.append(load_average())
                print(
                    f"{time.strftime('%H:%M:%S')} {name}: {run.bound:,} bound, last at {run.last_bound or 0:.1f} s, "
                    f"{run.per_second:.1f}/s, CPU {run.cpu_seconds:.1f} s"
                    f" ({run.burst_cpu_seconds or 0:.1f} s first to last bound)",
                    flush=True,
                )
                results.load = " | ".join(loads[:1] + loads[-1:])
                (args.out / "side-by-side.json").write_text(json.dumps(results.to_json(), indent=1))
    results.load = " | ".join(loads[:1] + loads[-1:])
    write(results, args.out)
    return 0


def write(results: figures.Results, out: Path) -> None:
    """Print the report; write it, the raw figures and the plot into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    print("\nSide by side (one control plane, one run)\n" + figures.report(results))
    (out / "side-by-side.json").write_text(json.dumps(results.to_json(), indent=1))
    (out / "side-by-side.md").write_text(figures.report(results, markdown=True))
    plot(results, out / "side-by-side.png")
    print(f"written: {out / 'side-by-side.md'}, {out / 'side-by-side.png'}")


if __name__ == "__main__":
    sys.exit(main())
