"""Core benchmark: time per allocation and memory per allocated address, as pools fill up.

For an IPv4 /8 and an IPv6 /64 pool, the ledger is filled to 10^3, 10^5 and 10^6 held
addresses, then a window of allocate + ledger.add calls is timed at that fill level (and
undone, so the next level starts from the same state). Three fill patterns:

- contiguous: the first N addresses (what sequential allocation produces: one interval);
- fragmented: every other address (N intervals: the honest worst case for memory, and the
  sequential window then fills the holes at the bottom, merging intervals);
- random:     N addresses drawn at random, with the random strategy timed on top.

Memory is measured in a separate pass with tracemalloc (it slows everything down) and
covers the whole ledger: holdings, their strings, both indexes and the interval set.

Run: ``.venv/bin/python bench/core_bench.py`` (about two minutes) or ``--quick``.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipam.core import addresses, allocate, ledger, names, pools

POOLS = {
    "IPv4 /8": {"namePrefix": "bench", "pools": [{"subnet": "10.0.0.0/8"}]},
    "IPv6 /64": {"namePrefix": "bench", "pools": [{"subnet": "fd00::/64"}]},
}
PATTERNS = ("contiguous", "fragmented", "random")
FULL_LEVELS = (10**3, 10**5, 10**6)
QUICK_LEVELS = (10**3, 10**4, 10**5)
WINDOW = 1000
REPEATS = 5
MEMORY_PATTERNS = ("contiguous", "fragmented")
"""tracemalloc slows a fill about fivefold, so memory is measured where it differs: a random
fill holds as many intervals as a fragmented one and costs the same memory."""


@dataclass(frozen=True)
class Row:
    pool: str
    pattern: str
    held: int
    micros_per_allocation: float
    bytes_per_address: float
    intervals: int


def fill_keys(pool: pools.Pool, pattern: str, count: int, seed: int) -> Iterator[int]:
    """The keys of the first ``count`` fill addresses for a pattern, in fill order."""
    first, last = next(pool.regions())
    if pattern == "contiguous":
        yield from range(first, first + count)
    elif pattern == "fragmented":
        yield from range(first, first + 2 * count, 2)
    else:
        rng, seen = random.Random(seed), set()
        while len(seen) < count:
            value = rng.randint(first, last)
            if value not in seen:
                seen.add(value)
                yield value


def holding(value: int, index: int) -> ledger.Holding:
    address = addresses.text_of(value)
    name = names.address_object_name("bench", address)
    return ledger.Holding(address, ledger.ClaimKey("capi", f"fill-{index}"), name)


def fill(book: ledger.Ledger, keys: Iterator[int], start: int, stop: int) -> None:
    for index in range(start, stop):
        book.add(holding(next(keys), index))


def time_window(pool: pools.Pool, book: ledger.Ledger, rng: random.Random) -> float:
    """Microseconds per allocate + add over one window, the window then undone."""
    claims = [ledger.ClaimKey("metal3", f"window-{i}") for i in range(WINDOW)]
    gc.collect()
    started = time.perf_counter()
    for claim in claims:
        allocation = allocate.allocate(pool, book, allocate.ClaimRequest(claim), rng=rng)
        book.add(ledger.Holding(allocation.details.address, claim, allocation.object_name))
    elapsed = time.perf_counter() - started
    for claim in claims:
        book.release(claim)
    return elapsed / WINDOW * 1e6


def strategy_for(pattern: str) -> str:
    return "random" if pattern == "random" else "sequential"


def measure_times(
    label: str, pattern: str, levels: tuple[int, ...]
) -> dict[int, tuple[float, int]]:
    pool = pools.Pool.from_spec({**POOLS[label], "allocationStrategy": strategy_for(pattern)})
    book, rng, results = ledger.Ledger(), random.Random(1), {}
    keys = fill_keys(pool, pattern, levels[-1], seed=7)
    held = 0
    for level in levels:
        fill(book, keys, held, level)
        held = level
        micros = min(time_window(pool, book, rng) for _ in range(REPEATS))
        results[level] = (micros, len(book.used_keys))
    return results


def measure_memory(label: str, pattern: str, levels: tuple[int, ...]) -> dict[int, float]:
    pool = pools.Pool.from_spec({**POOLS[label], "allocationStrategy": strategy_for(pattern)})
    keys = fill_keys(pool, pattern, levels[-1], seed=7)
    addresses.clear_caches()
    gc.collect()
    tracemalloc.start()
    book = ledger.Ledger()
    baseline = tracemalloc.get_traced_memory()[0]
    results, held = {}, 0
    for level in levels:
        fill(book, keys, held, level)
        held = level
        addresses.clear_caches()  # bounded, per process: not the ledger's memory
        results[level] = (tracemalloc.get_traced_memory()[0] - baseline) / level
    tracemalloc.stop()
    return results


def run(levels: tuple[int, ...]) -> list[Row]:
    rows = []
    for label in POOLS:
        for pattern in PATTERNS:
            times = measure_times(label, pattern, levels)
            memory = measure_memory(label, pattern, levels) if pattern in MEMORY_PATTERNS else {}
            for level in levels:
                micros, intervals = times[level]
                bytes_per_address = memory.get(level, float("nan"))
                rows.append(Row(label, pattern, level, micros, bytes_per_address, intervals))
            print(f"  measured {label} {pattern}", file=sys.stderr, flush=True)
    return rows


def _bytes(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"


def report(rows: list[Row], levels: tuple[int, ...]) -> bool:
    print(
        f"{'pool':<9} {'fill':<11} {'held':>9} {'us/alloc':>9} {'B/address':>10} {'intervals':>10}"
    )
    for row in rows:
        print(
            f"{row.pool:<9} {row.pattern:<11} {row.held:>9} {row.micros_per_allocation:>9.2f} "
            f"{_bytes(row.bytes_per_address):>10} {row.intervals:>10}"
        )
    print()
    print(f"time per allocation at {levels[-1]:.0e} held / at {levels[0]:.0e} held (target <= 3):")
    ok = True
    for label in POOLS:
        for pattern in PATTERNS:
            by_level = {r.held: r for r in rows if r.pool == label and r.pattern == pattern}
            ratio = (
                by_level[levels[-1]].micros_per_allocation
                / by_level[levels[0]].micros_per_allocation
            )
            target = pattern == "contiguous"
            ok &= ratio <= 3 or not target
            flag = ("ok" if ratio <= 3 else "OVER") if target else "info"
            print(f"  {label:<9} {pattern:<11} {ratio:5.2f}  {flag}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fill to 10^5 at most")
    levels = QUICK_LEVELS if parser.parse_args().quick else FULL_LEVELS
    started = time.perf_counter()
    rows = run(levels)
    ok = report(rows, levels)
    print(
        f"\nus/alloc: one allocate + ledger.add, best of {REPEATS} windows of {WINDOW}."
        "\nB/address: tracemalloc, whole ledger (holdings, strings, indexes, interval set);"
        "\n  '-' for random fills: as many intervals as a fragmented fill, same memory."
        f"\nran {time.perf_counter() - started:.0f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
