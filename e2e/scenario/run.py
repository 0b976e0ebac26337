"""The state of one scenario run, shared by the foreground and its background blocks.

Everything several threads may touch at once (captured variables, snapshots, backups,
the clusters touched) is read and written under one lock, and readers get copies. The
``stopping`` event is set by the first failure: every poll and sleep checks it, so the
other blocks stop at their next step, poll or sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from e2e.scenario import templating
from e2e.scenario.environment import Environment
from e2e.scenario.errors import Mismatch, Stopped
from e2e.scenario.kube import KubectlFailed, ObjectClient
from e2e.scenario.model import DEFAULT_MOVE_TIMEOUT, namespace_variables

POLL_INTERVAL = 0.25
T = TypeVar("T")


class Run:
    """Shared by the steps of one scenario; nothing in it outlives the test."""

    def __init__(
        self,
        env: Environment,
        namespace: str,
        suffix: str,
        repo_root: Path,
        *,
        interval: float = POLL_INTERVAL,
        more_namespaces: Sequence[str] = (),
        move_timeout: float = DEFAULT_MOVE_TIMEOUT,
    ) -> None:
        self.env = env
        self.namespace = namespace
        self.suffix = suffix
        self.repo_root = repo_root
        self.interval = interval
        self.move_timeout = move_timeout
        names = [namespace, *more_namespaces]
        self.namespaces: dict[str, str] = dict(
            zip(namespace_variables(len(names)), names, strict=True)
        )
        """Template variable -> namespace name: ``namespace``, ``namespace2``, ..."""
        self.stopping = threading.Event()
        self._lock = threading.RLock()
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._captured: dict[str, object] = {}
        self._touched: list[str] = []

    # --- shared state, under the lock -----------------------------------------------------

    @property
    def variables(self) -> dict[str, object]:
        with self._lock:
            return {**self._captured, **self.namespaces, "suffix": self.suffix}

    @property
    def captured(self) -> dict[str, object]:
        with self._lock:
            return dict(self._captured)

    def capture(self, variable: str, value: object) -> None:
        with self._lock:
            self._captured[variable] = value

    @property
    def snapshots(self) -> Mapping[str, dict[str, Any]]:
        with self._lock:
            return dict(self._snapshots)

    def record_snapshot(self, name: str, snapshot: dict[str, Any]) -> None:
        with self._lock:
            self._snapshots[name] = snapshot

    @property
    def touched(self) -> list[str]:
        with self._lock:
            return list(self._touched)

    def touch(self, cluster: str) -> None:
        if cluster not in self.env.cluster_names():
            raise Mismatch(f"no cluster {cluster!r}; the harness has {self.env.cluster_names()}")
        with self._lock:
            if cluster not in self._touched:
                self._touched.append(cluster)

    # --- helpers for steps and conditions ------------------------------------------------

    def render(self, value: Any, **extra: object) -> Any:
        return templating.render(value, {**self.variables, **extra})

    def render_value(self, value: Any) -> Any:
        """As :meth:`render`, but ``"{{ VAR }}"`` alone keeps a captured value's type."""
        return templating.render_value(value, self.variables, typed=self.captured)

    def client(self, cluster: str) -> ObjectClient:
        """The cluster's client; the cluster now counts as touched (invariants run there)."""
        self.touch(cluster)
        return self.env.client(cluster)

    def check_stopping(self) -> None:
        if self.stopping.is_set():
            raise Stopped("stopped: another step of the scenario failed")

    def sleep(self, seconds: float) -> None:
        """Sleep, unless another step fails meanwhile (then raise :class:`Stopped`)."""
        if self.stopping.wait(max(0.0, seconds)):
            self.check_stopping()

    def poll(self, check: Callable[[], T], timeout: float) -> T:
        """``check()`` until it stops raising Mismatch (or a kubectl error), or the timeout.

        Failing kubectl calls count as "not yet": right after a restart the API server
        may refuse a few requests. On timeout the last Mismatch is raised, marked with
        the time waited. A failure elsewhere in the scenario stops the poll at once.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.check_stopping()
            try:
                return check()
            except (Mismatch, KubectlFailed) as err:
                last = err
            if time.monotonic() >= deadline:
                break
            self.sleep(self.interval)
        if isinstance(last, Mismatch):
            last.summary = f"still not true after {timeout:g} s: {last.summary}"
            raise last
        raise Mismatch(f"still failing after {timeout:g} s: {last}")
