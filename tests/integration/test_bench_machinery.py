"""The side-by-side benchmark's machinery on a real control plane, at a size that costs seconds.

Only our controller runs (no peer has to be built): the raw create rates, a pool filled
with claims of each kind, the binding times from the watch, the API server's write
counters, /proc's CPU time and peak RSS, the report and the plot. The benchmark itself
(``make bench-peers``) is never run by the tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import figures, peers_bench
from e2e.cluster import Cluster
from e2e.controller import install_rbac
from e2e.controlplane import ControlPlane
from e2e.pytest_plugin import Namespaces

pytestmark = pytest.mark.cluster

CLAIMS = 12


def test_the_benchmark_fills_small_pools_with_our_controller_and_reports_them(
    source_cluster: Cluster, test_namespaces: Namespaces, tmp_path: Path
) -> None:
    if not isinstance(source_cluster, ControlPlane):
        pytest.skip(
            "the benchmark reads the harness control plane's metrics with its admin certificate"
        )
    raw, metal3, capi = test_namespaces.ensure(3)
    install_rbac(source_cluster)
    results = figures.Results(raw_rates=peers_bench.raw_rates(source_cluster, 10, raw))
    for contender, namespace in ((peers_bench.OURS_METAL3, metal3), (peers_bench.OURS_CAPI, capi)):
        results.runs.append(
            peers_bench.fill(
                source_cluster, contender, namespace, CLAIMS, tmp_path / namespace, timeout=300
            )
        )

    assert set(results.raw_rates) == {"ipam.metal3.io IPAddress", "Cluster API IPAddress"}
    assert all(rate > 0 for rate in results.raw_rates.values())
    for run in results.runs:
        assert run.complete, run
        assert run.bound == CLAIMS
        assert run.bound_at == sorted(run.bound_at)
        assert 0 < run.bound_at[0] <= run.bound_at[-1] < 300
        # Each binding costs at least an address create, a finalizer and a status write.
        assert run.writes_per_claim is not None
        assert run.writes_per_claim >= 3
        assert any(what.startswith("POST ipaddresses") for what in run.writes)
        assert run.cpu_seconds > 0
        assert run.peak_rss_bytes > 10 * 2**20
    text = figures.report(results)
    assert figures.OURS_METAL3 in text
    assert figures.OURS_CAPI in text
    png = tmp_path / "plot.png"
    peers_bench.plot(results, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
