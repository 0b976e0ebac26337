"""The state of one scenario run: namespace, suffix, snapshots, the clusters it touched."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from e2e.scenario import templating
from e2e.scenario.environment import Environment
from e2e.scenario.errors import Mismatch
from e2e.scenario.kube import KubectlFailed, ObjectClient

POLL_INTERVAL = 0.25
T = TypeVar("T")


@dataclass
class Run:
    """Shared by the steps of one scenario; nothing in it outlives the test."""

    env: Environment
    namespace: str
    suffix: str
    repo_root: Path
    interval: float = POLL_INTERVAL
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    captured: dict[str, object] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)

    @property
    def variables(self) -> dict[str, object]:
        return {**self.captured, "namespace": self.namespace, "suffix": self.suffix}

    def render(self, value: Any, **extra: object) -> Any:
        return templating.render(value, {**self.variables, **extra})

    def client(self, cluster: str) -> ObjectClient:
        """The cluster's client; the cluster now counts as touched (invariants run there)."""
        self.touch(cluster)
        return self.env.client(cluster)

    def touch(self, cluster: str) -> None:
        if cluster not in self.env.cluster_names():
            raise Mismatch(f"no cluster {cluster!r}; the harness has {self.env.cluster_names()}")
        if cluster not in self.touched:
            self.touched.append(cluster)

    def poll(self, check: Callable[[], T], timeout: float) -> T:
        """``check()`` until it stops raising Mismatch (or a kubectl error), or the timeout.

        Failing kubectl calls count as "not yet": right after a restart the API server
        may refuse a few requests. On timeout the last Mismatch is raised, marked with
        the time waited.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return check()
            except (Mismatch, KubectlFailed) as err:
                last = err
            if time.monotonic() >= deadline:
                break
            time.sleep(self.interval)
        if isinstance(last, Mismatch):
            last.summary = f"still not true after {timeout:g} s: {last.summary}"
            raise last
        raise Mismatch(f"still failing after {timeout:g} s: {last}")
