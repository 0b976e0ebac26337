"""Everything a scenario does to the world beyond object I/O goes through :class:`Environment`.

``HarnessEnvironment`` is the real thing: the session's clusters, the test's controller
processes and the real ``clusterctl move`` from ``e2e/``. The runner's unit tests use an
in-memory stand-in; scenarios always run on the real one. Background blocks call it from
their own threads, so it keeps its bookkeeping under a lock; programs (controllers, API
servers) are only ever started from the foreground, the main thread.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from e2e.scenario.errors import MoveFailed
from e2e.scenario.kube import KubectlClient, ObjectClient

RESTARTS = {"apiserver": "restart_apiserver", "etcd": "restart_etcd", "all": "restart"}


@dataclass(frozen=True)
class ControllerLog:
    """What a failure shows of one controller: its last lines and where the whole log is."""

    label: str
    """``main@source (running)``."""
    tail: str
    path: Path | None = None


@dataclass(frozen=True)
class Probe:
    """A controller's state as a readiness step sees it."""

    ready: bool
    exit_code: int | None = None
    """Set when the process has exited."""
    detail: str = ""


class Environment(Protocol):
    """The clusters and processes a scenario acts on."""

    def cluster_names(self) -> list[str]:
        """The clusters steps may name."""

    def client(self, cluster: str) -> ObjectClient:
        """Object I/O on one cluster."""

    def restart(self, cluster: str, component: str, *, down: float = 0.0) -> None:
        """Restart ``apiserver``, ``etcd`` or ``all`` of a cluster, keeping its data.

        With ``down``, it stays stopped that many seconds first: an outage.
        """

    def move(self, source: str, target: str, namespace: str, *, timeout: float) -> None:
        """``clusterctl move`` of one namespace; :class:`MoveFailed` when clusterctl fails."""

    def backup(self, source: str, directory: str, namespace: str, *, timeout: float) -> None:
        """``clusterctl move --to-directory`` of one namespace into the run's backup ``directory``."""

    def restore(self, directory: str, target: str, *, timeout: float) -> None:
        """``clusterctl move --from-directory`` of the run's backup ``directory``."""

    def controller(
        self, cluster: str, instance: str, action: str, args: Sequence[str] | None = None
    ) -> None:
        """``start``, ``stop``, ``kill`` or ``restart`` a controller instance on a cluster.

        ``args`` (start and restart) replace the instance's extra flags from now on;
        None keeps those it had.
        """

    def controller_probe(self, cluster: str, instance: str) -> Probe:
        """Whether the instance answers /readyz with 200, or has exited."""

    def controller_logs(self, lines: int) -> list[ControllerLog]:
        """The last lines of every controller and peer started so far, and its whole log's path."""

    def peer(
        self, cluster: str, name: str, action: str, *, namespace: str, args: Sequence[str] = ()
    ) -> None:
        """``start`` (and wait until ready) or ``stop`` an upstream program on a cluster,
        serving ``namespace``; a start of a running one does nothing."""


class HarnessEnvironment:
    """:class:`Environment` over the fixtures of ``e2e.pytest_plugin``."""

    def __init__(self, clusters: Mapping[str, Any], controllers: Any, workdir: Path) -> None:
        self.clusters = clusters
        self.controllers = controllers
        self.workdir = workdir
        self.started: dict[tuple[str, str], Any] = {}
        self.peers: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def cluster_names(self) -> list[str]:
        return list(self.clusters)

    def client(self, cluster: str) -> ObjectClient:
        return KubectlClient(self.clusters[cluster])

    def restart(self, cluster: str, component: str, *, down: float = 0.0) -> None:
        from e2e.cluster import NotSupported

        try:
            getattr(self.clusters[cluster], RESTARTS[component])(down=down)
        except NotSupported as err:
            pytest.skip(f"needs a cluster the harness runs: {err}")

    def move(self, source: str, target: str, namespace: str, *, timeout: float) -> None:
        from e2e import move

        try:
            move.move(self.clusters[source], self.clusters[target], namespace, timeout=timeout)
        except move.MoveError as err:
            raise MoveFailed(str(err)) from None

    def backup(self, source: str, directory: str, namespace: str, *, timeout: float) -> None:
        from e2e import move

        move.backup(self.clusters[source], self._backup(directory), namespace, timeout=timeout)

    def restore(self, directory: str, target: str, *, timeout: float) -> None:
        from e2e import move

        move.restore(self.clusters[target], self._backup(directory), timeout=timeout)

    def _backup(self, directory: str) -> Path:
        return self.workdir / "backups" / directory

    def controller(
        self, cluster: str, instance: str, action: str, args: Sequence[str] | None = None
    ) -> None:
        with self._lock:
            runner = self.controllers.get(cluster, instance)
            self.started[(cluster, instance)] = runner
        if action in ("start", "restart"):
            getattr(runner, action)(args=args)
        else:
            getattr(runner, action)()

    def controller_probe(self, cluster: str, instance: str) -> Probe:
        with self._lock:
            runner = self.started.get((cluster, instance))
        if runner is None:
            return Probe(ready=False, exit_code=-1, detail="it was never started")
        if not runner.running:
            code = runner.returncode
            return Probe(ready=False, exit_code=code, detail=f"it exited with code {code}")
        ready, detail = runner.readiness()
        return Probe(ready=ready, detail=detail)

    def controller_logs(self, lines: int) -> list[ControllerLog]:
        with self._lock:
            started = dict(self.started)
            peers = dict(self.peers)
        return [
            ControllerLog(
                label=f"{instance}@{cluster} ({'running' if runner.running else 'not running'})",
                tail=runner.log_tail(lines),
                path=runner.log_path,
            )
            for (cluster, instance), runner in started.items()
        ] + [
            ControllerLog(
                label=f"peer {name}@{cluster} ({'running' if peer.running else 'not running'})",
                tail=peer.log_tail(lines),
                path=peer.process.log_path,
            )
            for (cluster, name), peer in peers.items()
        ]

    def peer(
        self, cluster: str, name: str, action: str, *, namespace: str, args: Sequence[str] = ()
    ) -> None:
        from e2e import peers
        from e2e.controlplane import ControlPlane

        with self._lock:
            running = self.peers.get((cluster, name))
        if action == "stop":
            if running is not None:
                running.stop()
            return
        if running is not None and running.running:
            return
        plane = self.clusters[cluster]
        if not isinstance(plane, ControlPlane):
            pytest.skip(f"peers run only beside the harness's own clusters, not on {plane.name}")
        peer = peers.built(name)
        peers.install_in(list(self.clusters.values()), peer)
        process = peers.beside(
            name, plane, self.workdir / "peers" / cluster, namespace=namespace, extra=args
        )
        with self._lock:
            self.peers[(cluster, name)] = process
        process.start()
        peers.warm_openapi(plane)  # its start may have updated its CRDs (CRD migration)

    def stop_peers(self) -> None:
        """Stop every peer this test started (before its namespaces go)."""
        with self._lock:
            started = list(self.peers.values())
        for process in started:
            process.stop()
