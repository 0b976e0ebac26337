"""The side-by-side benchmark's arithmetic: API server counters, figures per run, goals, table."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import figures
from bench.figures import Results, Run

METRICS = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="ipam.metal3.io",resource="ipaddresses",scope="resource",subresource="",verb="POST",version="v1alpha1"} 1000
apiserver_request_total{code="409",component="apiserver",dry_run="",group="ipam.metal3.io",resource="ipaddresses",scope="resource",subresource="",verb="POST",version="v1alpha1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="ipam.metal3.io",resource="ipclaims",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 1.5e+03
apiserver_request_total{code="200",component="apiserver",dry_run="",group="ipam.metal3.io",resource="ipclaims",scope="resource",subresource="",verb="APPLY",version="v1alpha1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 40
apiserver_request_total{code="200",component="apiserver",dry_run="",group="ipam.metal3.io",resource="ipclaims",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 99
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 12
apiserver_request_duration_seconds_bucket{verb="POST",resource="ipaddresses",le="0.1"} 5
"""


def test_write_counts_adds_codes_and_keeps_verbs_resources_and_subresources_apart() -> None:
    assert figures.write_counts(METRICS) == Counter(
        {
            "POST ipaddresses": 1003,
            "PATCH ipclaims/status": 1500,
            "APPLY ipclaims": 7,
            "PUT leases": 40,
        }
    )


def test_writes_between_is_the_growth_of_each_counter() -> None:
    before = Counter({"POST ipaddresses": 10, "PUT leases": 5, "DELETE ipclaims": 2})
    after = Counter({"POST ipaddresses": 25, "PUT leases": 5, "DELETE ipclaims": 2, "PATCH x": 4})
    assert figures.writes_between(before, after) == Counter({"POST ipaddresses": 15, "PATCH x": 4})


def test_lease_renewals_are_not_writes_per_claim() -> None:
    writes = Counter({"POST ipaddresses": 100, "PATCH ipclaims/status": 100, "PUT leases": 30})
    assert figures.per_claim_writes(writes) == 200


def run(controller: str, claims: int, seconds: float, **kw: object) -> Run:
    """``claims`` claims bound evenly over ``seconds`` (first at seconds/claims)."""
    bound = int(kw.pop("bound", claims))  # type: ignore[call-overload]
    times = [seconds * (i + 1) / claims for i in range(bound)]
    defaults: dict[str, object] = {
        "writes": Counter({"POST ipaddresses": bound, "PATCH ipclaims/status": 2 * bound}),
        "cpu_seconds": 2.0,
        "peak_rss_bytes": 100_000_000,
    }
    defaults.update(kw)
    return Run(controller, claims, times, **defaults)  # type: ignore[arg-type]


def test_figures_of_one_run() -> None:
    r = run(figures.OURS_METAL3, 1000, 20.0, cpu_seconds=5.0)
    assert r.complete
    assert r.first_bound == pytest.approx(0.02)
    assert r.last_bound == pytest.approx(20.0)
    assert r.per_second == pytest.approx(50.0)
    assert r.writes_per_claim == pytest.approx(3.0)
    assert r.cpu_per_thousand == pytest.approx(5.0)


def test_a_stopped_run_reports_what_it_bound_so_far() -> None:
    r = run(figures.UPSTREAM, 1000, 100.0, bound=250, timed_out=True)
    assert not r.complete
    assert r.bound == 250
    assert r.per_second == pytest.approx(10.0)
    assert r.writes_per_claim == pytest.approx(3.0)


def test_a_run_that_bound_nothing_has_no_per_claim_figures() -> None:
    r = run(figures.UPSTREAM, 1000, 100.0, bound=0, timed_out=True)
    assert r.per_second == 0.0
    assert r.writes_per_claim is None
    assert r.cpu_per_thousand is None


def verdict(found: list[figures.Verdict], start: str) -> figures.Verdict:
    (only,) = [v for v in found if v.goal.startswith(start)]
    return only


def test_goals_compare_like_with_like_and_say_met_or_not_yet() -> None:
    results = Results(
        raw_rates={"ipam.metal3.io IPAddress": 600.0, "Cluster API IPAddress": 300.0},
        runs=[
            run(figures.UPSTREAM, 1000, 400.0),
            run(figures.INCLUSTER, 1000, 100.0),
            run(figures.OURS_METAL3, 1000, 20.0, cpu_seconds=4.0),
            run(figures.OURS_CAPI, 1000, 50.0, cpu_seconds=10.0),
        ],
    )
    found = figures.verdicts(results)
    upstream = verdict(found, f"{figures.OURS_METAL3} vs {figures.UPSTREAM}, 1,000")
    assert upstream.value == pytest.approx(20.0)
    assert upstream.status == "met"
    incluster = verdict(found, f"{figures.OURS_CAPI} vs {figures.INCLUSTER}, 1,000")
    assert incluster.value == pytest.approx(2.0)
    assert incluster.status == "not yet"
    # 50/s against 600/s ÷ 3 writes per claim = 200/s: 0.25 of the limit.
    limit = verdict(found, f"{figures.OURS_METAL3}, 1,000: bound/s")
    assert limit.value == pytest.approx(0.25)
    assert limit.status == "not yet"
    writes = verdict(found, f"{figures.OURS_CAPI}, 1,000: API writes")
    assert writes.value == pytest.approx(3.0)
    assert writes.status == "met"
    cpu_ok = verdict(found, f"{figures.OURS_METAL3}, 1,000: CPU")
    assert cpu_ok.status == "met"
    cpu_high = verdict(found, f"{figures.OURS_CAPI}, 1,000: CPU")
    assert cpu_high.status == "not yet"


def test_each_of_our_runs_is_also_read_against_a_bare_client_through_the_same_requests() -> None:
    results = Results(
        raw_rates={"ipam.metal3.io IPAddress": 600.0},
        runs=[
            run(figures.OURS_METAL3, 1000, 20.0),  # 50/s
            run(figures.OURS_CAPI, 1000, 25.0),  # 40/s
        ],
        raw_cycles={"IPClaim": 100.0, "Cluster API IPAddressClaim": 32.0},
    )
    found = figures.verdicts(results)
    bare = "1,000: bound/s ÷ a bare client's"
    metal3 = verdict(found, f"{figures.OURS_METAL3}, {bare}")
    assert metal3.value == pytest.approx(0.5)
    assert metal3.status == "not yet"
    capi = verdict(found, f"{figures.OURS_CAPI}, {bare}")
    assert capi.value == pytest.approx(1.25)
    assert capi.status == "met"
    again = Results.from_json(results.to_json())
    assert again.raw_cycles == results.raw_cycles
    assert "bare client, IPClaim bound" in figures.report(again)


def test_a_run_recorded_before_the_bare_client_was_measured_still_loads() -> None:
    data = Results(raw_rates={}, runs=[run(figures.OURS_METAL3, 1000, 20.0)]).to_json()
    del data["raw_cycles"]
    again = Results.from_json(data)
    assert again.raw_cycles == {}
    assert not [v for v in figures.verdicts(again) if "bare client" in v.goal]


def test_a_ratio_against_a_stopped_peer_is_marked_as_a_bound() -> None:
    results = Results(
        raw_rates={},
        runs=[
            run(figures.UPSTREAM, 1000, 400.0, bound=100, timed_out=True),
            run(figures.OURS_METAL3, 1000, 20.0),
        ],
    )
    found = verdict(figures.verdicts(results), f"{figures.OURS_METAL3} vs {figures.UPSTREAM}")
    assert found.bound_only
    assert found.value == pytest.approx(50.0 / (100 / (400.0 * 100 / 1000)))
    assert "peer stopped early" in "\n".join(figures.verdict_lines([found]))


def test_missing_runs_are_not_measured_rather_than_met() -> None:
    found = figures.verdicts(Results(raw_rates={}, runs=[run(figures.OURS_CAPI, 200, 4.0)]))
    peer = verdict(found, f"{figures.OURS_CAPI} vs {figures.INCLUSTER}")
    assert peer.value is None
    assert peer.status == "not measured"


def test_memory_per_claim_is_the_growth_between_the_sizes() -> None:
    results = Results(
        raw_rates={},
        runs=[
            run(figures.OURS_METAL3, 1000, 10.0, peak_rss_bytes=140 * 2**20),
            run(figures.OURS_METAL3, 10000, 100.0, peak_rss_bytes=500 * 2**20),
        ],
    )
    found = verdict(figures.verdicts(results), f"{figures.OURS_METAL3}: KiB")
    assert found.value == pytest.approx(360 * 1024 / 9000)
    assert found.status == "not yet"


def test_the_report_holds_every_run_and_survives_json() -> None:
    results = Results(
        raw_rates={"ipam.metal3.io IPAddress": 600.0},
        runs=[run(figures.UPSTREAM, 1000, 400.0, bound=10, timed_out=True)],
        load="load average: 5.00, 4.00, 3.00",
    )
    again = Results.from_json(results.to_json())
    text = figures.report(again)
    assert "600" in text
    assert "10 (stopped)" in text
    assert "load average: 5.00" in text
    markdown = figures.report(again, markdown=True)
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table) == 4  # header, rule, raw rate, the run
    assert all(line.count("|") == table[0].count("|") for line in table)


def test_the_registry_bench_counts_what_every_observed_address_keeps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench import registry_bench
    from ipam.kube import resources

    small = registry_bench.measure(200, resources.METAL3, lines=2)
    printed = capsys.readouterr().out
    assert "200 addresses" in printed
    assert printed.count(" B  ") == 2
    # What a fact keeps can never be smaller than its own object, nor a body's worth.
    assert 152 < small < 5_000
