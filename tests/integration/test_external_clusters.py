"""The fixtures run against two existing clusters named by kubeconfig, as on a laptop with kind.

The two "existing" clusters here are the session's own control planes, each with Cluster
API's manager, as ``clusterctl init`` leaves a kind cluster; an inner pytest run sees them
only through IPAM_E2E_SOURCE_KUBECONFIG / IPAM_E2E_TARGET_KUBECONFIG, finds Cluster API
there and starts nothing of its own. A control plane without Cluster API stops the inner
session with the command to run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import capi, install, ports
from e2e.cluster import Cluster
from e2e.controlplane import ControlPlane
from e2e.pytest_plugin import SOURCE_ENV, TARGET_ENV
from e2e.toolchain import REPO

pytestmark = pytest.mark.cluster

INNER = """
from e2e import processes, providers
from e2e.cluster import ExternalCluster
from e2e.move import move
from e2e.toolchain import ensure_tools
from tests.integration.helpers import apply_all, workload_cluster


def test_fixtures_use_the_named_clusters_and_their_cluster_api(clusters, namespace):
    assert all(isinstance(c, ExternalCluster) for c in clusters.values())
    version = ensure_tools().cluster_api_version
    assert [c.cluster_api_version for c in clusters.values()] == [version, version]
    assert processes.live_children() == [], "the harness started a program of its own"
    source, target = clusters["source"], clusters["target"]
    apply_all(source, workload_cluster(namespace, "external"))
    move(source, target, namespace)
    assert target.get_json("clusters.cluster.x-k8s.io", "external", "-n", namespace)
    assert target.get_json("harnessclusters." + providers.GROUP, "external", "-n", namespace)
    assert source.get_json("clusters.cluster.x-k8s.io", "external", "-n", namespace) is None


def test_restarting_an_external_api_server_is_refused(clusters):
    import pytest
    from e2e.cluster import NotSupported
    with pytest.raises(NotSupported):
        clusters["source"].restart_apiserver()
"""


def run_inner(tmp_path: Path, source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """pytest on INNER with the two kubeconfigs, as a user would run it against kind."""
    (tmp_path / "test_inner.py").write_text(INNER)
    env = dict(os.environ)
    env[SOURCE_ENV] = str(source)
    env[TARGET_ENV] = str(target)
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "e2e.pytest_plugin",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def bare() -> Iterator[ControlPlane]:
    """A Kubernetes control plane with nothing installed: no CRDs, no Cluster API."""
    with ControlPlane("bare", install_crds=False) as cp:
        yield cp


def test_fixtures_accept_two_existing_clusters_by_kubeconfig(
    source_cluster: Cluster, target_cluster: Cluster, tmp_path: Path
) -> None:
    if not isinstance(source_cluster, ControlPlane):
        pytest.skip("needs clusters the harness runs, to hand them over as existing ones")
    proc = run_inner(tmp_path, source_cluster.kubeconfig_path, target_cluster.kubeconfig_path)

    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout


def test_a_cluster_without_cluster_api_stops_the_session_saying_what_to_run(
    bare: ControlPlane, target_cluster: Cluster, tmp_path: Path
) -> None:
    proc = run_inner(tmp_path, bare.kubeconfig_path, target_cluster.kubeconfig_path)

    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-4000:]
    output = proc.stdout + proc.stderr
    assert f"Cluster API is not installed in source ({bare.kubeconfig_path})" in output
    assert f"clusterctl init --kubeconfig {bare.kubeconfig_path}" in output
    assert "passed" not in proc.stdout


def test_cluster_api_without_its_webhooks_or_its_manager_is_not_taken_for_installed(
    bare: ControlPlane,
) -> None:
    install.install_all(bare, bare.tools)
    with pytest.raises(capi.ClusterAPIError, match="webhooks are not registered in bare"):
        capi.check(bare)

    nobody = capi.Endpoint(ports.free_port(), bare.pki.ca_cert)
    bare.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": capi.webhook_configurations(bare.tools, nobody),
            }
        )
    )
    with pytest.raises(
        capi.ClusterAPIError,
        match=r"registered in bare .* but do not answer; is its manager running",
    ):
        capi.check(bare)
