"""The pure side of the side-by-side benchmark: parse counters, derive figures, judge goals, print.

Nothing here talks to a server or a process: it turns what ``bench/peers_bench.py``
observed (binding times, API server request counters, /proc readings) into the table,
the ratios and the verdict on each goal, so it can be tested on made-up numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

WRITE_VERBS = frozenset({"POST", "PATCH", "PUT", "DELETE", "APPLY"})
"""The verbs of ``apiserver_request_total`` that change something (APPLY is server-side
apply, counted apart from PATCH by recent API servers)."""
NOT_PER_CLAIM = frozenset({"leases", "serviceaccounts"})
"""Writes left out of the writes per claim, kept in the breakdown: Lease renewals follow the
clock, not the claims (only a controller with leader election makes them), and the
ServiceAccount token is the harness's, asked for when it starts our controller."""

_REQUEST_LINE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def write_counts(metrics_text: str) -> Counter[str]:
    """Write requests an API server has answered, by ``"VERB resource[/subresource]"``,
    from the text of its /metrics (all codes, groups and scopes added together)."""
    counts: Counter[str] = Counter()
    for line in metrics_text.splitlines():
        match = _REQUEST_LINE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("verb") not in WRITE_VERBS:
            continue
        what = labels.get("resource", "?")
        if labels.get("subresource"):
            what += f"/{labels['subresource']}"
        counts[f"{labels['verb']} {what}"] += round(float(match["value"]))
    return counts


def writes_between(before: Counter[str], after: Counter[str]) -> Counter[str]:
    """The writes made between two readings (counters only grow while the server runs)."""
    return Counter({k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)})


def per_claim_writes(writes: Counter[str]) -> int:
    """The writes that count for the claims: all but :data:`NOT_PER_CLAIM` resources."""
    return sum(
        n for what, n in writes.items() if what.split(" ", 1)[1].split("/")[0] not in NOT_PER_CLAIM
    )


@dataclass
class Run:
    """One controller filling one pool: what was observed, in seconds from its start."""

    controller: str
    claims: int
    bound_at: list[float]
    """When each bound claim was first seen bound, seconds after the controller started."""
    writes: Counter[str]
    cpu_seconds: float
    peak_rss_bytes: int
    timed_out: bool = False
    note: str = ""
    burst_cpu_seconds: float | None = None
    """CPU from the first claim seen bound to the last: the whole run's less start-up (imports,
    connecting, the first Lists) and less the writes that settle after the last claim."""

    @property
    def bound(self) -> int:
        return len(self.bound_at)

    @property
    def complete(self) -> bool:
        return self.bound >= self.claims and not self.timed_out

    @property
    def first_bound(self) -> float | None:
        return min(self.bound_at) if self.bound_at else None

    @property
    def last_bound(self) -> float | None:
        return max(self.bound_at) if self.bound_at else None

    @property
    def per_second(self) -> float:
        """Claims bound per second from the controller's start to its last binding."""
        last = self.last_bound
        return self.bound / last if last else 0.0

    @property
    def writes_per_claim(self) -> float | None:
        return per_claim_writes(self.writes) / self.bound if self.bound else None

    @property
    def cpu_per_thousand(self) -> float | None:
        return self.cpu_seconds * 1000 / self.bound if self.bound else None

    @property
    def burst_cpu_per_thousand(self) -> float | None:
        if self.burst_cpu_seconds is None or not self.bound:
            return None
        return self.burst_cpu_seconds * 1000 / self.bound

    def to_json(self) -> dict[str, Any]:
        return {
            "controller": self.controller,
            "claims": self.claims,
            "bound_at": self.bound_at,
            "writes": dict(self.writes),
            "cpu_seconds": self.cpu_seconds,
            "peak_rss_bytes": self.peak_rss_bytes,
            "timed_out": self.timed_out,
            "note": self.note,
            "burst_cpu_seconds": self.burst_cpu_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(
            controller=data["controller"],
            claims=data["claims"],
            bound_at=list(data["bound_at"]),
            writes=Counter(data["writes"]),
            cpu_seconds=data["cpu_seconds"],
            peak_rss_bytes=data["peak_rss_bytes"],
            timed_out=data.get("timed_out", False),
            note=data.get("note", ""),
            burst_cpu_seconds=data.get("burst_cpu_seconds"),
        )


@dataclass
class Results:
    """One benchmark run: the raw create rates of the server and every controller run."""

    raw_rates: dict[str, float]
    """Creates per second, by the kind of address object."""
    runs: list[Run] = field(default_factory=list)
    load: str = ""
    raw_cycles: dict[str, float] = field(default_factory=dict)
    """Claims per second a bare client takes through the requests of one bound claim (claim
    create, IPAddress create, finalizer patch, status patch), by the kind of claim."""

    def find(self, controller: str, claims: int) -> Run | None:
        return next(
            (r for r in self.runs if r.controller == controller and r.claims == claims), None
        )

    @property
    def sizes(self) -> list[int]:
        return sorted({r.claims for r in self.runs})

    def to_json(self) -> dict[str, Any]:
        return {
            "raw_rates": self.raw_rates,
            "runs": [r.to_json() for r in self.runs],
            "load": self.load,
            "raw_cycles": self.raw_cycles,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        return cls(
            raw_rates=dict(data["raw_rates"]),
            runs=[Run.from_json(r) for r in data["runs"]],
            load=data.get("load", ""),
            raw_cycles=dict(data.get("raw_cycles") or {}),
        )


# --- the controllers and the goals ---------------------------------------------------------

UPSTREAM = "upstream Metal3 IPAM"
INCLUSTER = "in-cluster provider"
OURS_METAL3 = "ours, Metal3 claims"
OURS_CAPI = "ours, Cluster API claims"
RAW_KIND = {
    UPSTREAM: "ipam.metal3.io IPAddress",
    INCLUSTER: "Cluster API IPAddress",
    OURS_METAL3: "ipam.metal3.io IPAddress",
    OURS_CAPI: "Cluster API IPAddress",
}
"""The address object each controller creates, so the raw rate each is compared with."""
CYCLE_KIND = {OURS_METAL3: "IPClaim", OURS_CAPI: "Cluster API IPAddressClaim"}
"""The claim each of our runs binds, so the bare client's cycle rate it is compared with."""

BASELINE_CPU_PER_THOUSAND = 19.0
"""The controller's CPU seconds per 1,000 bound claims before this benchmark existed (1,000
IPClaims on one pool, measured by hand); the goal is a quarter of it."""


@dataclass(frozen=True)
class Verdict:
    """One goal against what was measured: ``value`` is None when it could not be measured."""

    goal: str
    value: float | None
    target: float
    at_least: bool
    """True when the goal is ``value >= target``, False when ``value <= target``."""
    bound_only: bool = False
    """The compared peer did not finish: the ratio is a bound (the peer's rate so far)."""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.target if self.at_least else self.value <= self.target

    @property
    def status(self) -> str:
        met = self.met
        return "not measured" if met is None else ("met" if met else "not yet")


def _ratio(ours: Run | None, theirs: Run | None) -> tuple[float | None, bool]:
    if ours is None or theirs is None or not ours.bound or not theirs.per_second:
        return None, False
    return ours.per_second / theirs.per_second, not theirs.complete


def verdicts(results: Results) -> list[Verdict]:
    """Every goal the benchmark can judge, for every size it ran."""
    found: list[Verdict] = []
    for n in results.sizes:
        for ours, theirs, target in ((OURS_METAL3, UPSTREAM, 10.0), (OURS_CAPI, INCLUSTER, 3.0)):
            value, partial = _ratio(results.find(ours, n), results.find(theirs, n))
            found.append(
                Verdict(
                    f"{ours} vs {theirs}, {n:,} claims: bound/s ratio", value, target, True, partial
                )
            )
        for ours in (OURS_METAL3, OURS_CAPI):
            run = results.find(ours, n)
            raw = results.raw_rates.get(RAW_KIND[ours])
            wpc = run.writes_per_claim if run else None
            limit = raw / wpc if raw and wpc else None
            found.append(
                Verdict(
                    f"{ours}, {n:,}: bound/s ÷ (raw creates/s ÷ writes per claim)",
                    run.per_second / limit if run and limit else None,
                    0.8,
                    True,
                )
            )
            cycles = results.raw_cycles.get(CYCLE_KIND[ours])
            if cycles:
                found.append(
                    Verdict(
                        f"{ours}, {n:,}: bound/s ÷ a bare client's claims/s through the same "
                        "requests (read beside the line above)",
                        run.per_second / cycles if run and run.bound else None,
                        0.8,
                        True,
                    )
                )
            found.append(Verdict(f"{ours}, {n:,}: API writes per claim", wpc, 3.0, False))
            found.append(
                Verdict(
                    f"{ours}, {n:,}: CPU s per 1,000 claims (today's {BASELINE_CPU_PER_THOUSAND:g} ÷ 4)",
                    run.cpu_per_thousand if run else None,
                    BASELINE_CPU_PER_THOUSAND / 4,
                    False,
                )
            )
    if len(results.sizes) >= 2:
        small, large = results.sizes[0], results.sizes[-1]
        for ours in (OURS_METAL3, OURS_CAPI):
            a, b = results.find(ours, small), results.find(ours, large)
            value = None
            if a and b and b.bound > a.bound:
                value = (b.peak_rss_bytes - a.peak_rss_bytes) / (b.bound - a.bound) / 1024
            found.append(
                Verdict(
                    f"{ours}: KiB of peak RSS per extra bound claim ({small:,} -> {large:,})",
                    value,
                    4.0,
                    False,
                )
            )
    return found


# --- printing ------------------------------------------------------------------------------


def _num(value: float | None, fmt: str, missing: str = "-") -> str:
    return missing if value is None else format(value, fmt)


def table_rows(results: Results) -> list[list[str]]:
    """Header and one row per raw rate and per controller run."""
    rows = [
        [
            "run",
            "claims",
            "bound",
            "first bound s",
            "last bound s",
            "bound/s",
            "writes/claim",
            "CPU s /1,000",
            "of it first to last bound",
            "peak RSS MB",
        ]
    ]
    for kind, rate in results.raw_rates.items():
        rows.append([f"raw creates, {kind}", "", "", "", "", f"{rate:,.0f}", "1", "", "", ""])
    for kind, rate in results.raw_cycles.items():
        rows.append([f"bare client, {kind} bound", "", "", "", "", f"{rate:,.1f}", "3", "", "", ""])
    for run in results.runs:
        bound = f"{run.bound:,}" + ("" if run.complete else " (stopped)")
        rows.append(
            [
                run.controller,
                f"{run.claims:,}",
                bound,
                _num(run.first_bound, ".1f"),
                _num(run.last_bound, ".1f"),
                f"{run.per_second:,.1f}",
                _num(run.writes_per_claim, ".2f"),
                _num(run.cpu_per_thousand, ".1f"),
                _num(run.burst_cpu_per_thousand, ".1f"),
                f"{run.peak_rss_bytes / 1e6:,.0f}",
            ]
        )
    return rows


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def text_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def verdict_lines(found: Iterable[Verdict]) -> list[str]:
    lines = []
    for v in found:
        sign = ">=" if v.at_least else "<="
        value = _num(v.value, ".2f", "n/a")
        if v.bound_only and v.value is not None:
            value = f"{value} (peer stopped early: its rate so far)"
        lines.append(f"{v.status:>12}  {v.goal}: {value} (goal {sign} {v.target:g})")
    return lines


def breakdown_lines(results: Results) -> list[str]:
    """Each run's writes per bound claim, by verb and resource."""
    lines = []
    for run in results.runs:
        if not run.bound:
            continue
        parts = ", ".join(f"{what} {n / run.bound:.2f}" for what, n in sorted(run.writes.items()))
        lines.append(f"{run.controller}, {run.claims:,}: {parts}")
    return lines


def report(results: Results, markdown: bool = False) -> str:
    rows = table_rows(results)
    out = [markdown_table(rows) if markdown else text_table(rows), ""]
    out += ["Writes per bound claim, by verb and resource (Lease renewals not counted above):"]
    out += [("- " if markdown else "  ") + line for line in breakdown_lines(results)]
    out += ["", "Goals (ratios from this one run):"]
    out += [
        ("- " if markdown else "") + line.strip() if markdown else line
        for line in verdict_lines(verdicts(results))
    ]
    if results.load:
        out += ["", f"Machine load: {results.load}"]
    return "\n".join(out) + "\n"
