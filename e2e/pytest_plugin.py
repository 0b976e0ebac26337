"""pytest fixtures: two management clusters per session, a namespace and controllers per test.

By default the session starts two harness control planes (``source`` and ``target``)
side by side, each with Cluster API's manager. Set ``IPAM_E2E_SOURCE_KUBECONFIG`` and
``IPAM_E2E_TARGET_KUBECONFIG`` to run the same tests against two clusters you already
have (kind on a laptop with ``clusterctl init``, say): the harness then checks that
Cluster API runs there (and stops the session saying what to run if it does not),
installs this project's CRDs and inventory entry, and uses the clusters as they are;
tests that restart an API server or etcd are skipped there.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import processes
from e2e.capi import ClusterAPIError
from e2e.cluster import Cluster, ExternalCluster
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane, start_all

SOURCE_ENV = "IPAM_E2E_SOURCE_KUBECONFIG"
TARGET_ENV = "IPAM_E2E_TARGET_KUBECONFIG"


def external_clusters() -> dict[str, Cluster] | None:
    source, target = os.environ.get(SOURCE_ENV), os.environ.get(TARGET_ENV)
    if not source and not target:
        return None
    if not (source and target):
        raise pytest.UsageError(f"set both {SOURCE_ENV} and {TARGET_ENV}, or neither")
    try:
        return {
            "source": ExternalCluster("source", Path(source)).prepare(),
            "target": ExternalCluster("target", Path(target)).prepare(),
        }
    except ClusterAPIError as err:
        pytest.exit(str(err), returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def clusters() -> Iterator[dict[str, Cluster]]:
    """The source and target management clusters of a move, shared by the whole session."""
    processes.install_signal_handlers()
    external = external_clusters()
    if external is not None:
        yield external
        return
    planes = {"source": ControlPlane("source"), "target": ControlPlane("target")}
    start_all(*planes.values())
    try:
        yield dict(planes)
    finally:
        for cp in planes.values():
            cp.stop()


@pytest.fixture(scope="session")
def source_cluster(clusters: dict[str, Cluster]) -> Cluster:
    return clusters["source"]


@pytest.fixture(scope="session")
def target_cluster(clusters: dict[str, Cluster]) -> Cluster:
    return clusters["target"]


def _namespace_name(nodeid: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", nodeid.split("::")[-1].lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, clusters: dict[str, Cluster]) -> Iterator[str]:
    """A fresh namespace, created in both clusters and deleted from both afterwards."""
    name = _namespace_name(request.node.nodeid)
    for cluster in clusters.values():
        cluster.kubectl("create", "namespace", name)
    yield name
    for cluster in clusters.values():
        cluster.kubectl(
            "delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False
        )


class Controllers:
    """Controller processes of one test, by cluster and instance name; all stopped at the end."""

    def __init__(self, clusters: dict[str, Cluster], workdir: Path) -> None:
        self.clusters = clusters
        self.workdir = workdir
        self.runners: dict[tuple[str, str], ControllerRunner] = {}

    def get(self, cluster: str = "source", name: str = "main") -> ControllerRunner:
        key = (cluster, name)
        if key not in self.runners:
            self.runners[key] = ControllerRunner(self.clusters[cluster], self.workdir, name=name)
        return self.runners[key]

    def start(self, cluster: str = "source", name: str = "main") -> ControllerRunner:
        return self.get(cluster, name).start()

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for (cluster, name), runner in self.runners.items():
            parts.append(f"--- controller {name} on {cluster} (last {lines} lines) ---")
            parts.append(runner.log_tail(lines))
        return "\n".join(parts)

    def stop_all(self) -> None:
        for runner in self.runners.values():
            runner.stop()


@pytest.fixture
def controllers(clusters: dict[str, Cluster]) -> Iterator[Controllers]:
    with tempfile.TemporaryDirectory(prefix="capi-ipam-controllers-") as workdir:
        manager = Controllers(clusters, Path(workdir))
        try:
            yield manager
        finally:
            manager.stop_all()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    processes.kill_all()
