"""pytest fixtures: two management clusters per session, a namespace and controllers per test.

By default the session starts two harness control planes (``source`` and ``target``)
side by side, each with Cluster API's manager. Set ``IPAM_E2E_SOURCE_KUBECONFIG`` and
``IPAM_E2E_TARGET_KUBECONFIG`` to run the same tests against two clusters you already
have (kind on a laptop with ``clusterctl init``, say): the harness then checks that
Cluster API runs there (and stops the session saying what to run if it does not),
installs this project's CRDs and inventory entry, and uses the clusters as they are;
tests that restart an API server or etcd are skipped there.

Tests do not disturb each other: every test gets fresh namespaces, its controllers serve
only those (``--namespace``) and elect their leader on a Lease of their own, and at the end
the namespaces are deleted with the finalizers of their IPAM objects removed, so nothing
is left for a later test's controller to clean up. Controller logs are kept in the
test's ``tmp_path`` (pytest keeps the last three runs' directories).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import secrets
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from e2e import processes
from e2e.capi import ClusterAPIError
from e2e.cluster import Cluster, ExternalCluster
from e2e.controller import SYSTEM_NAMESPACE, ControllerRunner
from e2e.controlplane import ControlPlane, start_all

SOURCE_ENV = "IPAM_E2E_SOURCE_KUBECONFIG"
TARGET_ENV = "IPAM_E2E_TARGET_KUBECONFIG"
IPAM_RESOURCES = (
    "ippools.ipam.metal3.io",
    "ipclaims.ipam.metal3.io",
    "ipaddresses.ipam.metal3.io",
    "ipaddressclaims.ipam.cluster.x-k8s.io",
    "ipaddresses.ipam.cluster.x-k8s.io",
)
"""What a test's teardown frees of finalizers: nothing runs to release them any more."""


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


class Namespaces:
    """The namespaces of one test, each created in every cluster; ``names[0]`` is the first."""

    def __init__(self, clusters: dict[str, Cluster], nodeid: str) -> None:
        self.clusters = clusters
        self.nodeid = nodeid
        self.names: list[str] = []

    def add(self) -> str:
        name = _namespace_name(self.nodeid)
        for cluster in self.clusters.values():
            cluster.kubectl("create", "namespace", name)
        self.names.append(name)
        return name

    def ensure(self, count: int) -> list[str]:
        """At least ``count`` namespaces; the first ``count`` of them."""
        while len(self.names) < count:
            self.add()
        return self.names[:count]

    def delete_all(self) -> None:
        """Delete every namespace, then free its IPAM objects of their finalizers.

        The test's controllers are stopped by now and no other test's controller serves
        these namespaces, so nothing else would ever remove those finalizers.
        """
        if not self.names:
            return
        for cluster in self.clusters.values():
            cluster.kubectl(
                "delete", "namespace", *self.names, "--wait=false", "--ignore-not-found",
                check=False,
            )  # fmt: skip
            for name in self.names:
                _drop_finalizers(cluster, name)


FINALIZER_PATCHERS = 8
"""kubectl processes freeing objects at once: one patch request per object, so a
thousand-claim namespace takes seconds, not minutes."""


def _drop_finalizers(cluster: Cluster, namespace: str) -> None:
    listed = cluster.kubectl(
        "get", ",".join(IPAM_RESOURCES), "-n", namespace, "-o", "json", check=False
    )
    if listed.returncode != 0:
        print(
            f"teardown: cannot list {namespace} on {cluster.name}: {listed.stderr}", file=sys.stderr
        )
        return
    held = [
        {"apiVersion": o["apiVersion"], "kind": o["kind"], "metadata": {
            "name": o["metadata"]["name"], "namespace": namespace}}
        for o in json.loads(listed.stdout).get("items", [])
        if o["metadata"].get("finalizers")
    ]  # fmt: skip
    size = max(50, -(-len(held) // FINALIZER_PATCHERS))
    chunks = [held[at : at + size] for at in range(0, len(held), size)]

    def patch(chunk: list[dict[str, Any]]) -> str:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": chunk})
        done = cluster.kubectl(
            "patch", "-f", "-", "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
            input=document, check=False, timeout=300,
        )  # fmt: skip
        return "" if done.returncode == 0 or "NotFound" in done.stderr else done.stderr

    with concurrent.futures.ThreadPoolExecutor(max_workers=FINALIZER_PATCHERS) as pool:
        for problem in pool.map(patch, chunks):
            if problem:
                print(f"teardown: finalizers stay in {namespace}: {problem}", file=sys.stderr)


@pytest.fixture
def test_namespaces(
    request: pytest.FixtureRequest, clusters: dict[str, Cluster]
) -> Iterator[Namespaces]:
    """The test's namespaces (one made at once, more with ``ensure``); all deleted at the end."""
    namespaces = Namespaces(clusters, request.node.nodeid)
    namespaces.add()
    try:
        yield namespaces
    finally:
        namespaces.delete_all()


@pytest.fixture
def namespace(test_namespaces: Namespaces) -> str:
    """A fresh namespace, created in both clusters and deleted from both afterwards."""
    return test_namespaces.names[0]


class Controllers:
    """Controller processes of one test, by cluster and instance name; all stopped at the end.

    Given ``namespaces`` (read when each controller starts), every controller serves only
    those and all of them share one Lease named after the first, so instances of one test
    elect one leader among themselves and never wait for another test's Lease.
    """

    def __init__(
        self, clusters: dict[str, Cluster], workdir: Path, namespaces: Sequence[str] = ()
    ) -> None:
        self.clusters = clusters
        self.workdir = workdir
        self.namespaces = namespaces
        self.runners: dict[tuple[str, str], ControllerRunner] = {}

    @property
    def lease_name(self) -> str | None:
        return f"ipam-{self.namespaces[0]}" if self.namespaces else None

    def get(self, cluster: str = "source", name: str = "main") -> ControllerRunner:
        key = (cluster, name)
        if key not in self.runners:
            self.runners[key] = ControllerRunner(
                self.clusters[cluster],
                self.workdir,
                name=name,
                namespaces=self.namespaces,
                lease_name=self.lease_name,
            )
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
        lease = self.lease_name
        for cluster in {key[0] for key in self.runners}:
            if lease:
                self.clusters[cluster].kubectl(
                    "delete", "lease", lease, "-n", SYSTEM_NAMESPACE, "--ignore-not-found",
                    check=False,
                )  # fmt: skip


@pytest.fixture
def controllers(
    clusters: dict[str, Cluster], test_namespaces: Namespaces, tmp_path: Path
) -> Iterator[Controllers]:
    """The test's controllers: they serve its namespaces; their logs stay in ``tmp_path``."""
    manager = Controllers(clusters, tmp_path / "controllers", test_namespaces.names)
    try:
        yield manager
    finally:
        manager.stop_all()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    processes.kill_all()
