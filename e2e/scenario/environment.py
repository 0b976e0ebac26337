"""Everything a scenario does to the world beyond object I/O goes through :class:`Environment`.

``HarnessEnvironment`` is the real thing: the session's clusters, the test's controller
processes and the real ``clusterctl move`` from ``e2e/``. The runner's unit tests use an
in-memory stand-in; scenarios always run on the real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import pytest

from e2e.scenario.kube import KubectlClient, ObjectClient

RESTARTS = {"apiserver": "restart_apiserver", "etcd": "restart_etcd", "all": "restart"}


class Environment(Protocol):
    """The clusters and processes a scenario acts on."""

    def cluster_names(self) -> list[str]:
        """The clusters steps may name."""

    def client(self, cluster: str) -> ObjectClient:
        """Object I/O on one cluster."""

    def restart(self, cluster: str, component: str) -> None:
        """Restart ``apiserver``, ``etcd`` or ``all`` of a cluster, keeping its data."""

    def move(self, source: str, target: str, namespace: str) -> None:
        """``clusterctl move`` of one namespace."""

    def controller(self, cluster: str, instance: str, action: str) -> None:
        """``start``, ``stop``, ``kill`` or ``restart`` a controller instance on a cluster."""

    def controller_logs(self, lines: int) -> dict[str, str]:
        """The last lines of every controller started so far, by ``instance@cluster``."""


class HarnessEnvironment:
    """:class:`Environment` over the fixtures of ``e2e.pytest_plugin``."""

    def __init__(self, clusters: Mapping[str, Any], controllers: Any) -> None:
        self.clusters = clusters
        self.controllers = controllers
        self.started: dict[tuple[str, str], Any] = {}

    def cluster_names(self) -> list[str]:
        return list(self.clusters)

    def client(self, cluster: str) -> ObjectClient:
        return KubectlClient(self.clusters[cluster])

    def restart(self, cluster: str, component: str) -> None:
        from e2e.cluster import NotSupported

        try:
            getattr(self.clusters[cluster], RESTARTS[component])()
        except NotSupported as err:
            pytest.skip(f"needs a cluster the harness runs: {err}")

    def move(self, source: str, target: str, namespace: str) -> None:
        from e2e.move import move

        move(self.clusters[source], self.clusters[target], namespace)

    def controller(self, cluster: str, instance: str, action: str) -> None:
        runner = self.controllers.get(cluster, instance)
        self.started[(cluster, instance)] = runner
        getattr(runner, action)()

    def controller_logs(self, lines: int) -> dict[str, str]:
        return {
            f"{instance}@{cluster} ({'running' if runner.running else 'not running'})": (
                runner.log_tail(lines)
            )
            for (cluster, instance), runner in self.started.items()
        }
