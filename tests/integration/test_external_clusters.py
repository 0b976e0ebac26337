"""The fixtures run against two existing clusters named by kubeconfig, as on a laptop with kind.

The two "existing" clusters here are the session's own control planes; an inner pytest
run sees them only through IPAM_E2E_SOURCE_KUBECONFIG / IPAM_E2E_TARGET_KUBECONFIG.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.cluster import Cluster
from e2e.pytest_plugin import SOURCE_ENV, TARGET_ENV
from e2e.toolchain import REPO

pytestmark = pytest.mark.cluster

INNER = """
import json
from e2e.cluster import ExternalCluster
from e2e.move import move


def test_fixtures_use_the_named_clusters(clusters, namespace):
    assert all(isinstance(c, ExternalCluster) for c in clusters.values())
    source, target = clusters["source"], clusters["target"]
    cluster = {"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
               "metadata": {"name": "external", "namespace": namespace},
               "spec": {"clusterNetwork": {"serviceDomain": "cluster.local"}}}
    source.apply(json.dumps(cluster))
    move(source, target, namespace)
    assert target.get_json("clusters.cluster.x-k8s.io", "external", "-n", namespace)
    assert source.get_json("clusters.cluster.x-k8s.io", "external", "-n", namespace) is None


def test_restarting_an_external_api_server_is_refused(clusters):
    import pytest
    from e2e.cluster import NotSupported
    with pytest.raises(NotSupported):
        clusters["source"].restart_apiserver()
"""


def test_fixtures_accept_two_existing_clusters_by_kubeconfig(
    source_cluster: Cluster, target_cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    env = dict(os.environ)
    env[SOURCE_ENV] = str(source_cluster.kubeconfig_path)
    env[TARGET_ENV] = str(target_cluster.kubeconfig_path)
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
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
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout
