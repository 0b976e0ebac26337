"""Many claims over many pools: all bound exactly once, nothing lost, the Lease kept throughout.

One control plane, one controller process under its RBAC with leader election on, as
a user runs it. The bench creates ``--pools`` IPPools (IPv4 and IPv6 in turn, each large
enough) spread over ``--namespaces`` namespaces, then ``--claims`` claims spread over the
pools (a ``--capi-share`` of them Cluster API IPAddressClaims, the rest IPClaims),
``--concurrency`` creates in flight, and waits until every claim has its address, until
no new address came for ``--stall`` seconds. Past ``--deadline`` minutes no more claims
are created; those created are still waited for (``--drain`` minutes at most), and only
they are checked.

Meanwhile, every second, it reads the controller's Lease: the largest gap between two
renewTimes it saw is compared with the lease duration (a Lease not renewed for that long
may be taken by another instance); how stale the Lease was when read is shown beside it,
an upper bound that includes the time the read took. Every ``--every`` seconds, the number of IPAddresses the API
server holds (a List with ``limit=1`` and its ``remainingItemCount``) and the controller's
resident memory and CPU time from ``/proc``.

At the end everything is read back from the API server and checked: every claim exists
and is bound, to exactly one address object that names it; no address object without its
claim; every address unique within its pool and inside it; each pool's ``status.used``,
``free`` and ``indexes`` (or ``indexesOmitted``) match its addresses. The exit status is
non-zero when a claim was lost, left unbound or bound twice, an address duplicated or
orphaned, a pool status wrong, the controller exited, or the Lease was lost or changed hands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import ipaddress
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster_bench import ssl_context
from bench.memory_bench import rss_kib
from e2e.controller import SYSTEM_NAMESPACE, ControllerRunner
from e2e.controlplane import ControlPlane
from ipam.kube.leader import LEASE_NAME

METAL3 = "/apis/ipam.metal3.io/v1alpha1"
CAPI = "/apis/ipam.cluster.x-k8s.io/v1beta2"
LEASE_PATH = f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NAMESPACE}/leases/{LEASE_NAME}"
LEASE_DURATION = 15.0
"""The controller's default ``--lease-duration``, which the bench runs it with."""
LOG_SIGNS = {
    "lease lost": r"Leadership lost",
    "renewal failed": r"Could not renew the lease",
    "became leader": r"Became the leader",
    "tracebacks": r"^Traceback",
    "errors": r"\bERROR\b|\[ERROR",
}
"""What the controller's log is searched for at the end (counted, first lines shown)."""


@dataclass(frozen=True)
class Pool:
    namespace: str
    name: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def body(self) -> dict[str, Any]:
        return {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "namePrefix": self.name,
                "pools": [{"subnet": str(self.network)}],
                "prefix": self.network.prefixlen,
            },
        }


@dataclass(frozen=True)
class Claim:
    namespace: str
    name: str
    pool: str
    capi: bool

    def path(self) -> str:
        kind = f"{CAPI}/namespaces/{self.namespace}/ipaddressclaims"
        return kind if self.capi else f"{METAL3}/namespaces/{self.namespace}/ipclaims"

    def body(self) -> dict[str, Any]:
        if self.capi:
            return {
                "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
                "kind": "IPAddressClaim",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": {
                    "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": self.pool}
                },
            }
        return {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"pool": {"name": self.pool}},
        }


def plan(
    claims: int, pools: int, namespaces: int, capi_share: float
) -> tuple[list[Pool], list[Claim]]:
    """Pools alternately IPv4 (carved from 10.0.0.0/8, twice the claims they get) and IPv6
    (a /64 each), over the namespaces in turn; claims over the pools in turn."""
    per_pool = -(-claims // pools)
    v4_prefix = 32 - max(2 * per_pool + 2, 4).bit_length()
    v4 = ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=v4_prefix)
    made: list[Pool] = []
    for k in range(pools):
        network: ipaddress.IPv4Network | ipaddress.IPv6Network
        if k % 2 == 0:
            network = next(v4)
        else:
            network = ipaddress.IPv6Network(f"fd00:{k >> 16:x}:{k & 0xFFFF:x}::/64")
        made.append(Pool(f"scale-{k % namespaces}", f"pool-{k}", network))
    wanted: list[Claim] = []
    for j in range(claims):
        pool = made[j % pools]
        capi = int((j + 1) * capi_share) > int(j * capi_share)
        wanted.append(Claim(pool.namespace, f"claim-{j}", pool.name, capi))
    return made, wanted


# --- talking to the API server ---------------------------------------------------------------


class Api:
    """One aiohttp session with the admin certificate, used from one event loop."""

    def __init__(self, cp: ControlPlane, connections: int) -> None:
        self.server = cp.server
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context(cp), limit=connections),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> dict[str, Any] | None:
        async with self.session.get(f"{self.server}{path}") as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {await resp.text()}")
            found: dict[str, Any] = json.loads(await resp.read())
            return found

    async def post(self, path: str, body: dict[str, Any]) -> int:
        async with self.session.post(
            f"{self.server}{path}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        ) as resp:
            await resp.read()
            return resp.status

    async def count(self, path: str) -> int:
        """Objects at a List path: one item and the server's count of the rest."""
        listed = await self.get(f"{path}?limit=1")
        assert listed is not None
        return len(listed["items"]) + int(listed["metadata"].get("remainingItemCount") or 0)

    async def list_all(self, path: str, page: int = 1000) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            listed = await self.get(
                f"{path}?limit={page}" + (f"&continue={token}" if token else "")
            )
            assert listed is not None
            items += listed["items"]
            token = listed["metadata"].get("continue", "")
            if not token:
                return items


# --- what is watched while it runs --------------------------------------------------------------


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        with contextlib.suppress(ValueError):
            moment = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC)
            return moment.timestamp()
    return None


@dataclass
class LeaseWatch:
    """The Lease as read every second: holders seen, transitions, how stale it got."""

    first: dict[str, Any] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    holders: list[str] = field(default_factory=list)
    reads: int = 0
    failed_reads: int = 0
    stalest: float = 0.0
    """Largest (time of a read - the renewTime it showed): an upper bound, as it includes
    how long the server and the bench took to answer and parse the read."""
    stalest_at: str = ""
    stale_last: float = 0.0
    renewals: int = 0
    largest_renew_gap: float = 0.0
    _last_renew: float | None = None

    def see(self, spec: dict[str, Any], read_at: float) -> None:
        self.reads += 1
        if not self.first:
            self.first = dict(spec)
        self.last = dict(spec)
        holder = spec.get("holderIdentity") or ""
        if not self.holders or self.holders[-1] != holder:
            self.holders.append(holder)
        renewed = _parse_time(spec.get("renewTime"))
        if renewed is None:
            return
        stale = self.stale_last = read_at - renewed
        if stale > self.stalest:
            self.stalest = stale
            self.stalest_at = time.strftime("%H:%M:%S", time.gmtime(read_at))
        if self._last_renew is not None and renewed > self._last_renew:
            self.renewals += 1
            self.largest_renew_gap = max(self.largest_renew_gap, renewed - self._last_renew)
        if self._last_renew is None or renewed > self._last_renew:
            self._last_renew = renewed

    @property
    def transitions(self) -> int:
        return int(self.last.get("leaseTransitions") or 0) - int(
            self.first.get("leaseTransitions") or 0
        )


def load_average() -> list[str]:
    """The 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return Path("/proc/loadavg").read_text().split()[:3]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM)."""
    found = re.search(r"^VmHWM:\s+(\d+) kB$", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found.group(1)) if found else 0


@dataclass
class Progress:
    """Samples over time: (seconds since the first create, claims created, addresses, RSS KiB)."""

    started: float = field(default_factory=time.monotonic)
    created: int = 0
    acknowledged: set[str] = field(default_factory=set)
    """Names of the claims whose create the server answered with 201 (or 409 on a retry)."""
    create_failures: Counter[int] = field(default_factory=Counter)
    creating_done: float | None = None
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    rss_peak_sampled: int = 0
    exited: bool = False


async def create_all(api: Api, claims: list[Claim], concurrency: int, progress: Progress) -> None:
    queue: asyncio.Queue[Claim] = asyncio.Queue()
    for claim in claims:
        queue.put_nowait(claim)

    async def worker() -> None:
        while not queue.empty():
            claim = queue.get_nowait()
            for attempt in range(5):
                try:
                    status = await api.post(claim.path(), claim.body())
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                if status in (201, 409):  # 409: an earlier attempt did create it
                    progress.created += 1
                    progress.acknowledged.add(claim.name)
                    break
                progress.create_failures[status] += 1
                await asyncio.sleep(1 + attempt)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    progress.creating_done = time.monotonic() - progress.started


async def watch_lease(api: Api, lease: LeaseWatch, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            found = await api.get(LEASE_PATH)
            if found is not None:
                lease.see(found.get("spec") or {}, time.time())
        except (aiohttp.ClientError, TimeoutError, RuntimeError):
            lease.failed_reads += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def addresses_held(counts: dict[str, int]) -> int:
    return counts.get("metal3", 0) + counts.get("capi", 0)


async def address_counts(api: Api) -> dict[str, int]:
    return {
        "metal3": await api.count(f"{METAL3}/ipaddresses"),
        "capi": await api.count(f"{CAPI}/ipaddresses"),
    }


async def run_load(
    api: Api,
    runner: ControllerRunner,
    pid: int,
    claims: list[Claim],
    args: argparse.Namespace,
    lease: LeaseWatch,
    progress: Progress,
) -> str:
    """Create the claims and wait; return why the wait ended."""
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_lease(api, lease, stop))
    creator = asyncio.create_task(create_all(api, claims, args.concurrency, progress))
    deadline = progress.started + args.deadline * 60
    last_change, last_held = time.monotonic(), -1
    why = ""
    try:
        while True:
            if creator.done():
                await asyncio.sleep(args.every)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(creator), args.every)
            now = time.monotonic()
            try:
                held = addresses_held(await address_counts(api))
            except (aiohttp.ClientError, TimeoutError, RuntimeError) as err:
                print(f"  (count failed: {err})", flush=True)
                continue
            if not runner.running:
                progress.exited = True
                why = f"the controller exited (code {runner.returncode})"
                break
            rss = rss_kib(pid)
            progress.rss_peak_sampled = max(progress.rss_peak_sampled, rss)
            elapsed = now - progress.started
            progress.samples.append((elapsed, progress.created, held, rss))
            rate = ""
            if len(progress.samples) > 1:
                t0, _, h0, _ = progress.samples[-2]
                rate = f"{(held - h0) / max(elapsed - t0, 1e-9):7.1f}/s"
            load = " ".join(load_average())
            print(
                f"  {elapsed:7.0f}s created {progress.created:>7,} bound {held:>7,} {rate:>10}"
                f"  RSS {rss / 1024:6.0f} MiB  CPU {cpu_seconds(pid):7.0f}s"
                f"  lease gap {lease.largest_renew_gap:4.1f}s stalest {lease.stalest:4.1f}s"
                f"  load {load}",
                flush=True,
            )
            if held != last_held:
                last_change, last_held = now, held
            if creator.done() and held >= progress.created:
                why = why or "every claim has an address"
                break
            if now - last_change > args.stall:
                why = f"no new address for {args.stall:.0f}s"
                break
            if now > deadline + args.drain * 60:
                why = f"{args.drain:g} min after the deadline, claims were still unbound"
                break
            if now > deadline and not creator.done():
                creator.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await creator
                why = (
                    f"the deadline ({args.deadline:g} min) stopped the creates; "
                    "every claim created has an address"
                )
    finally:
        if not creator.done():
            creator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await creator
        elif not creator.cancelled():
            creator.result()
        stop.set()
        await watcher
    return why


# --- the checks at the end ---------------------------------------------------------------------


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


@dataclass
class Verdict:
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    figures: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, example: str) -> None:
        self.problems[what].append(example)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


async def verify(
    api: Api, pools: list[Pool], claims: list[Claim], acknowledged: set[str], settle: float
) -> Verdict:
    """Read everything back and check it; pool status is read again until it settles.

    A claim of the plan that is not on the server is lost when its create was answered,
    and merely not created (a create stopped by the deadline) otherwise.
    """
    verdict = Verdict()
    metal3_claims = {_key(c): c for c in await api.list_all(f"{METAL3}/ipclaims")}
    capi_claims = {_key(c): c for c in await api.list_all(f"{CAPI}/ipaddressclaims")}
    metal3_addresses = await api.list_all(f"{METAL3}/ipaddresses")
    capi_addresses = await api.list_all(f"{CAPI}/ipaddresses")
    by_pool = {(p.namespace, p.name): p for p in pools}

    # Who names whom: (namespace, claim) -> address objects, per kind.
    named: dict[tuple[bool, str, str], list[dict[str, Any]]] = defaultdict(list)
    held: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # pool -> address -> claim
    wanted = {(c.capi, c.namespace, c.name): c for c in claims}
    for capi, addresses in ((False, metal3_addresses), (True, capi_addresses)):
        for address in addresses:
            ns, name = _key(address)
            spec = address.get("spec") or {}
            claim_name = (spec.get("claimRef") if capi else spec.get("claim") or {}) or {}
            pool_name = ((spec.get("poolRef") if capi else spec.get("pool")) or {}).get("name")
            claim_key = (capi, ns, str(claim_name.get("name")))
            named[claim_key].append(address)
            if claim_key not in wanted:
                verdict.add("address without a claim of the bench", f"{ns}/{name}")
                continue
            if pool_name != wanted[claim_key].pool:
                verdict.add("address in another pool than its claim's", f"{ns}/{name}")
            pool = by_pool.get((ns, str(pool_name)))
            ip = str(spec.get("address"))
            if pool is None:
                verdict.add("address of an unknown pool", f"{ns}/{name} -> {pool_name}")
                continue
            try:
                inside = ipaddress.ip_address(ip) in pool.network
            except ValueError:
                inside = False
            if not inside:
                verdict.add("address outside its pool", f"{ns}/{name} {ip} not in {pool.network}")
            canonical = str(ipaddress.ip_address(ip)) if inside else ip
            other = held[(ns, pool.name)].get(canonical)
            if other is not None:
                verdict.add(
                    "address held twice in a pool", f"{ns}/{pool.name} {ip}: {other}, {name}"
                )
            held[(ns, pool.name)][canonical] = claim_key[2]

    bound = not_created = 0
    for claim in claims:
        objects = capi_claims if claim.capi else metal3_claims
        body = objects.get((claim.namespace, claim.name))
        label = f"{'IPAddressClaim' if claim.capi else 'IPClaim'} {claim.namespace}/{claim.name}"
        if body is None:
            if claim.name in acknowledged:
                verdict.add("claim lost", label)
            else:
                not_created += 1
            continue
        status = body.get("status") or {}
        ref = (status.get("addressRef") if claim.capi else status.get("address")) or {}
        addresses = named.get((claim.capi, claim.namespace, claim.name), [])
        if len(addresses) > 1:
            names = sorted(a["metadata"]["name"] for a in addresses)
            verdict.add("claim with several addresses", f"{label}: {names}")
        if not ref.get("name"):
            verdict.add("claim not bound", label)
            continue
        if not addresses:
            verdict.add("bound claim without its address object", f"{label} -> {ref['name']}")
            continue
        if ref["name"] not in {a["metadata"]["name"] for a in addresses}:
            verdict.add("claim names another address than the one naming it", label)
            continue
        bound += 1
    verdict.figures.update(
        claims_expected=len(claims) - not_created,
        claims_not_created=not_created,
        claims_found=sum(
            1 for c in claims if (c.namespace, c.name) in (capi_claims if c.capi else metal3_claims)
        ),
        claims_bound=bound,
        metal3_addresses=len(metal3_addresses),
        capi_addresses=len(capi_addresses),
    )

    # Pool status follows at its own pace: read it again until it matches, or settle passes.
    deadline = time.monotonic() + settle
    while True:
        wrong: list[str] = []
        for pool in pools:
            body = await api.get(f"{METAL3}/namespaces/{pool.namespace}/ippools/{pool.name}")
            status = (body or {}).get("status") or {}
            mine = held[(pool.namespace, pool.name)]
            used, total, free = status.get("used"), status.get("total"), status.get("free")
            indexes = status.get("indexes") or {}
            omitted = status.get("indexesOmitted") or 0
            if used != len(mine):
                wrong.append(f"{pool.name}: used {used}, {len(mine)} addresses")
            elif not _counts_add_up(pool, status):
                wrong.append(f"{pool.name}: total {total}, free {free}, used {used}")
            elif indexes:
                listed = {claim: str(ipaddress.ip_address(ip)) for claim, ip in indexes.items()}
                if listed != {claim: ip for ip, claim in mine.items()}:
                    wrong.append(f"{pool.name}: indexes differ from its addresses")
            elif omitted != len(mine):
                wrong.append(f"{pool.name}: no indexes, indexesOmitted {omitted}, {len(mine)} held")
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(5)
    for line in wrong:
        verdict.add("pool status wrong", line)
    return verdict


INT64_MAX = 2**63 - 1


def _counts_add_up(pool: Pool, status: dict[str, Any]) -> bool:
    """``total`` is the subnet's size (less at most its first and last address), clamped to
    int64 with ``capacityOverflow`` said; ``free`` is what ``used`` leaves of it."""
    size = pool.network.num_addresses
    total, used, free = status.get("total"), status.get("used"), status.get("free")
    if not (isinstance(total, int) and isinstance(used, int) and isinstance(free, int)):
        return False
    if size > INT64_MAX:
        return bool(status.get("capacityOverflow")) and total == INT64_MAX == free
    return size - 2 <= total <= size and free == total - used


# --- the run -----------------------------------------------------------------------------------


def log_signs(path: Path) -> dict[str, list[str]]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return {
        what: [line for line in text.splitlines() if re.search(pattern, line)]
        for what, pattern in LOG_SIGNS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--capi-share", type=float, default=0.1, help="share of IPAddressClaims")
    parser.add_argument("--concurrency", type=int, default=16, help="creates in flight")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--stall", type=float, default=600.0, help="give up after this long")
    parser.add_argument(
        "--deadline", type=float, default=360.0, help="minutes after which no claim is created"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="minutes past the deadline to wait, at most"
    )
    parser.add_argument("--controller-args", default="", help="extra flags, space-separated")
    parser.add_argument("--keep-log", type=Path, help="copy the controller's log here at the end")
    args = parser.parse_args()
    if not 0 <= args.capi_share <= 1:
        parser.error("--capi-share is a share, between 0 and 1")
    namespaces = min(args.namespaces, args.pools)
    pools, claims = plan(args.claims, args.pools, namespaces, args.capi_share)
    capi_claims = sum(c.capi for c in claims)
    print(
        f"\nScale benchmark: {len(claims):,} claims ({len(claims) - capi_claims:,} IPClaims, "
        f"{capi_claims:,} IPAddressClaims) over {len(pools)} pools in {namespaces} namespaces",
        flush=True,
    )
    began = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    uptime_start = load_average()

    with (
        ControlPlane("bench-scale") as cp,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.ExitStack() as stack,
    ):
        runner = ControllerRunner(
            cp, Path(tmp), name="scale", extra_args=args.controller_args.split()
        )
        stack.callback(runner.stop)
        if args.keep_log:
            keep = args.keep_log
            stack.callback(lambda: runner.log_path.exists() and shutil.copy(runner.log_path, keep))
        for ns in sorted({p.namespace for p in pools}):
            cp.kubectl("create", "namespace", ns)
        lease = LeaseWatch()
        progress = Progress()

        async def setup_and_load() -> tuple[str, Verdict, dict[str, float]]:
            api = Api(cp, args.concurrency + 4)
            try:
                for pool in pools:
                    status = await api.post(
                        f"{METAL3}/namespaces/{pool.namespace}/ippools", pool.body()
                    )
                    if status != 201:
                        raise RuntimeError(f"IPPool {pool.name}: {status}")
                runner.start()
                if not await asyncio.to_thread(runner.wait_for_log, "Controller running", 300):
                    raise RuntimeError(f"the controller did not start:\n{runner.log_tail(40)}")
                pid = runner.pid
                if pid is None:
                    raise RuntimeError(f"the controller exited:\n{runner.log_tail(40)}")
                await asyncio.sleep(10)
                figures = {"rss_idle": rss_kib(pid), "cpu_idle": cpu_seconds(pid)}
                progress.started = time.monotonic()
                why = await run_load(api, runner, pid, claims, args, lease, progress)
                figures["seconds"] = time.monotonic() - progress.started
                if runner.running:
                    figures.update(
                        rss_end=rss_kib(pid), rss_peak=peak_rss_kib(pid), cpu_end=cpu_seconds(pid)
                    )
                    # The Lease is read on through the checks: they load the server too.
                    stop = asyncio.Event()
                    watcher = asyncio.create_task(watch_lease(api, lease, stop))
                    verdict = await verify(api, pools, claims, progress.acknowledged, settle=120)
                    stop.set()
                    await watcher
                    if runner.running:
                        figures.update(
                            rss_after_checks=rss_kib(pid), cpu_after_checks=cpu_seconds(pid)
                        )
                    else:
                        progress.exited = True
                else:
                    verdict = await verify(api, pools, claims, progress.acknowledged, settle=0)
                return why, verdict, figures
            finally:
                await api.close()

        why, verdict, got = asyncio.run(setup_and_load())
        signs = log_signs(runner.log_path)
        etcd_db = cp.workdir / "etcd" / "member" / "snap" / "db"
        etcd_mib = etcd_db.stat().st_size / 2**20 if etcd_db.exists() else 0.0
        runner.stop()

    ended = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    uptime_end = load_average()
    return report(
        args, claims, pools, began, ended, uptime_start, uptime_end,
        why, verdict, got, lease, progress, signs, etcd_mib,
    )  # fmt: skip


def report(
    args: argparse.Namespace,
    claims: list[Claim],
    pools: list[Pool],
    began: str,
    ended: str,
    load_start: list[str],
    load_end: list[str],
    why: str,
    verdict: Verdict,
    got: dict[str, float],
    lease: LeaseWatch,
    progress: Progress,
    signs: dict[str, list[str]],
    etcd_mib: float,
) -> int:
    n = len(claims)
    bound = verdict.figures.get("claims_bound", 0)
    seconds = got.get("seconds", 0.0)
    print(f"\nBound over time (every {args.every:.0f}s sample; created, addresses, rate, RSS):")
    step = max(1, len(progress.samples) // 40)
    previous = (0.0, 0, 0, 0)
    for i, sample in enumerate(progress.samples):
        if i % step and i != len(progress.samples) - 1:
            continue
        t, created, held, rss = sample
        rate = (held - previous[2]) / max(t - previous[0], 1e-9)
        print(
            f"  {t:7.0f}s  created {created:>7,}  bound {held:>7,}  {rate:7.1f}/s  RSS {rss / 1024:6.0f} MiB"
        )
        previous = sample
    first_bound = next((t for t, _, held, _ in progress.samples if held > 0), None)
    cpu = got.get("cpu_end", 0.0) - got.get("cpu_idle", 0.0)
    rows = [
        ("run", f"{began} to {ended}"),
        ("load average at start / end (1, 5, 15 min)", f"{' '.join(load_start)} / {' '.join(load_end)}"),
        ("claims (IPClaims + IPAddressClaims)", f"{n:,} ({n - sum(c.capi for c in claims):,} + {sum(c.capi for c in claims):,})"),
        ("pools (IPv4 + IPv6), namespaces", f"{len(pools)} ({(len(pools) + 1) // 2} + {len(pools) // 2}), {len({p.namespace for p in pools})}"),
        ("the wait ended because", why),
        ("claims created (create failures by status)", f"{progress.created:,} ({dict(progress.create_failures) or 'none'})"),
        ("claims not created (the deadline stopped the creates)", f"{verdict.figures.get('claims_not_created', 0):,}"),
        ("all created after (s)", f"{progress.creating_done:,.0f}" if progress.creating_done else "not all"),
        ("claims bound, checked at the end", f"{bound:,} of {verdict.figures.get('claims_expected', n):,} created"),
        ("time from the first create to the end of the wait (s)", f"{seconds:,.0f}"),
        ("claims bound per second over that time", f"{bound / seconds:,.1f}" if seconds else "-"),
        ("first address seen after (s)", f"{first_bound:,.0f}" if first_bound is not None else "-"),
        ("controller RSS idle / peak (VmHWM) / at the end (MiB)", f"{got.get('rss_idle', 0) / 1024:,.0f} / {got.get('rss_peak', 0) / 1024:,.0f} / {got.get('rss_end', 0) / 1024:,.0f}"),
        ("controller RSS after the final checks (MiB)", f"{got.get('rss_after_checks', 0) / 1024:,.0f}"),
        ("controller CPU seconds during the load (per 1,000 bound)", f"{cpu:,.0f} ({1000 * cpu / bound:,.1f})" if bound else f"{cpu:,.0f}"),
        ("etcd database file at the end (MiB)", f"{etcd_mib:,.0f}"),
        ("Lease holder before / after", f"{lease.first.get('holderIdentity', '-')} / {lease.last.get('holderIdentity', '-')}"),
        ("Lease holders seen in turn", str(len(lease.holders))),
        ("Lease leaseTransitions before / after", f"{lease.first.get('leaseTransitions', 0)} / {lease.last.get('leaseTransitions', 0)}"),
        ("Lease reads (failed)", f"{lease.reads:,} ({lease.failed_reads})"),
        ("Lease renewals seen, largest gap between two (s; duration 15)", f"{lease.renewals:,}, {lease.largest_renew_gap:.1f}"),
        ("Lease stalest when read (s; an upper bound)", f"{lease.stalest:.1f} at {lease.stalest_at or '-'}"),
        ("controller exited", "yes" if progress.exited else "no"),
        *((f"log: {what}", str(len(lines))) for what, lines in signs.items()),
    ]  # fmt: skip
    print("\nSummary")
    for label, value in rows:
        print(f"  {label:<58} {value}")
    for what in ("lease lost", "renewal failed", "tracebacks", "errors"):
        for line in signs[what][:5]:
            print(f"  log ({what}): {line[:200]}")
    lease_lost = (
        progress.exited
        or bool(signs["lease lost"])
        or len(signs["became leader"]) > 1
        or lease.transitions > 0
        or len(lease.holders) > 1
        or lease.largest_renew_gap > LEASE_DURATION
        or lease.stale_last > LEASE_DURATION
    )
    if lease_lost:
        verdict.add("Lease lost or the controller gone", "see the Lease rows above")
    print("\nChecks")
    for what, examples in verdict.problems.items():
        if examples:
            print(f"  FAIL {what}: {len(examples):,}, e.g. {examples[:3]}")
    if verdict.ok:
        print("  every claim bound exactly once, every address unique and inside its pool,")
        print("  no orphan address, every pool status right, the Lease kept throughout: OK")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
