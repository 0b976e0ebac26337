"""The side-by-side benchmark's machinery on a real control plane, at a size that costs seconds.

Only our controller runs (no peer has to be built): the raw create rates, a pool filled
with claims of each kind, the binding times from the watch, the API server's write
counters, /proc's CPU time and peak RSS, the report and the plot. The benchmark itself
(``make bench-peers``) is never run by the tests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import cluster_bench, figures, peers_bench
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


@pytest.mark.parametrize("cluster_api", [False, True], ids=["ipclaims", "capi-claims"])
def test_a_bare_client_binds_and_releases_claims_through_the_same_requests(
    source_cluster: Cluster, test_namespaces: Namespaces, cluster_api: bool
) -> None:
    if not isinstance(source_cluster, ControlPlane):
        pytest.skip("the bare client talks to the harness control plane with its admin certificate")
    (namespace,) = test_namespaces.ensure(1)
    cycles = cluster_bench.ClaimCycles(
        source_cluster, namespace, cluster_api, address_finalizer=True
    )
    kind = "ipaddressclaims.ipam.cluster.x-k8s.io" if cluster_api else "ipclaims.ipam.metal3.io"
    addresses = "ipaddresses.ipam.cluster.x-k8s.io" if cluster_api else "ipaddresses.ipam.metal3.io"

    assert asyncio.run(cycles.bind(6, 3)) > 0
    claims = source_cluster.get_json(kind, "-n", namespace)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == [f"cycle-{i}" for i in range(6)]
    for claim in claims:
        assert claim["metadata"]["finalizers"] == [cycles.claim_finalizer]
        assert claim["status"], "the status names the claim's IPAddress"
    made = source_cluster.get_json(addresses, "-n", namespace)["items"]
    assert [a["metadata"]["finalizers"] for a in made] == [[cycles.address_finalizer]] * 6

    assert asyncio.run(cycles.release(6, 3)) > 0
    assert source_cluster.get_json(kind, "-n", namespace)["items"] == []
    assert source_cluster.get_json(addresses, "-n", namespace)["items"] == []
