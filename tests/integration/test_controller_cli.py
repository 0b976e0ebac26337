"""``python -m ipam`` as a user meets it: clear failures, the pools table, probes and metrics."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import kubeconfig
from e2e.cluster import Cluster
from e2e.controlplane import ControlPlane
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import ipam, wait_for

pytestmark = pytest.mark.cluster


def setup(cluster: Cluster, namespace: str) -> None:
    items = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "table", "namespace": namespace},
            "spec": {"namePrefix": "table", "pools": [{"start": "10.60.0.1", "end": "10.60.0.10"}]},
        },
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": "first", "namespace": namespace},
            "spec": {"pool": {"name": "table"}},
        },
        {
            "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
            "kind": "IPAddressClaim",
            "metadata": {"name": "second", "namespace": namespace},
            "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "table"}},
        },
    ]
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )


def used(cluster: Cluster, namespace: str) -> int:
    pool = cluster.get_json("ippools.ipam.metal3.io", "table", "-n", namespace)
    return int((pool.get("status") or {}).get("used", 0))


def test_the_pools_command_shows_usage_and_who_holds_what(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    setup(source_cluster, namespace)
    wait_for("two addresses in use", lambda: used(source_cluster, namespace) == 2)

    proc = ipam(
        "pools", "-n", namespace, "--holders", f"--kubeconfig={source_cluster.kubeconfig_path}"
    )
    assert proc.returncode == 0, proc.stderr
    header, row, holders_header, *holders = proc.stdout.splitlines()
    assert header.split() == ["POOL", "USAGE", "TOTAL", "USED", "FREE", "STATUS"]
    name, bar, *counts = row.split()
    assert (name, len(bar), counts) == ("table", 20, ["20%", "10", "2", "8", "Ready"])
    assert bar == "█" * 4 + "░" * 16
    assert holders_header.split() == ["ADDRESS", "CLAIM", "OBJECT", "AGE"]
    held = [line.split() for line in holders]
    assert {claim for _, claim, _, _ in held} == {"IPClaim/first", "IPAddressClaim/second"}
    assert [address for address, _, _, _ in held] == ["10.60.0.1", "10.60.0.2"]
    assert {obj for _, _, obj, _ in held} == {"table-10-60-0-1", "table-10-60-0-2"}


def test_metrics_show_each_pools_usage_and_the_allocations(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    runner = controllers.start()
    setup(source_cluster, namespace)
    wait_for("two addresses in use", lambda: used(source_cluster, namespace) == 2)

    def scrape() -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{runner.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())

    labels = f'namespace="{namespace}",pool="table"'
    text = wait_for(
        "the pool gauges",
        lambda: (t := scrape()) and f"ipam_pool_addresses_used{{{labels}}} 2.0" in t and t,
    )
    assert f"ipam_pool_addresses_total{{{labels}}} 10.0" in text
    assert f"ipam_pool_addresses_free{{{labels}}} 8.0" in text
    assert 'ipam_allocations_total{kind="metal3"}' in text
    assert 'ipam_allocation_duration_seconds_count{kind="capi"}' in text


def test_run_explains_an_unreachable_api_server_and_exits_2(
    tmp_path: Path, source_cluster: Cluster
) -> None:
    _, ca = kubeconfig.read_server(source_cluster.kubeconfig_path)
    config = kubeconfig.write_token(
        tmp_path / "nowhere.kubeconfig",
        name="nowhere",
        server="https://127.0.0.1:1",
        ca=Path(ca or ""),
        token="x",
    )
    proc = ipam("run", f"--kubeconfig={config}", "--health-port=0", "--metrics-port=0")
    assert proc.returncode == 2
    assert "Cannot reach the API server" in proc.stderr


def test_run_explains_a_missing_kubeconfig_and_exits_2(tmp_path: Path) -> None:
    proc = ipam("run", f"--kubeconfig={tmp_path / 'absent'}", "--health-port=0", "--metrics-port=0")
    assert proc.returncode == 2
    assert "kubeconfig" in proc.stderr


@pytest.fixture(scope="module")
def bare_cluster() -> Iterator[ControlPlane]:
    """A control plane without any CRD installed."""
    with ControlPlane("bare", install_crds=False) as plane:
        yield plane


def test_run_explains_missing_crds_and_exits_3(bare_cluster: ControlPlane) -> None:
    proc = ipam(
        "run", f"--kubeconfig={bare_cluster.kubeconfig_path}", "--health-port=0", "--metrics-port=0"
    )
    assert proc.returncode == 3
    assert "install the CRDs" in proc.stderr
    assert "ippools.ipam.metal3.io" in proc.stderr


@pytest.mark.parametrize("command", [["pools"], ["who", "10.0.0.1"], ["check-move"]])
def test_the_inspection_commands_explain_missing_crds_and_exit_3(
    bare_cluster: ControlPlane, command: list[str]
) -> None:
    proc = ipam(*command, f"--kubeconfig={bare_cluster.kubeconfig_path}")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "are the CRDs installed? kubectl apply -k crds" in proc.stderr
    assert "ippools.ipam.metal3.io" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("command", [["pools"], ["who", "x"], ["check-move"]])
def test_the_inspection_commands_explain_an_unreachable_api_server_and_exit_2(
    tmp_path: Path, source_cluster: Cluster, command: list[str]
) -> None:
    _, ca = kubeconfig.read_server(source_cluster.kubeconfig_path)
    config = kubeconfig.write_token(
        tmp_path / "nowhere.kubeconfig",
        name="nowhere",
        server="https://127.0.0.1:1",
        ca=Path(ca or ""),
        token="x",
    )
    proc = ipam(*command, f"--kubeconfig={config}", "-n", "default")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: cannot reach the API server" in proc.stderr
    assert "127.0.0.1:1" in proc.stderr
