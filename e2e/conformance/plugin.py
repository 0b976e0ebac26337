"""pytest collects ``conformance/cases/*.yaml``: one item per case, on one shared control plane.

``conformance/conftest.py`` imports this module's hooks and fixtures, so only a run that
collects ``conformance/`` (``make conformance``) builds upstream's manager and starts the
control plane; ``make test`` never looks there. Each case gets two fresh namespaces,
upstream's manager scoped to one with ``--namespace`` and ours to the other, both started
for the case and stopped after it. The last item checks that every entry of the
differences file that is meant for every case still explains something.
"""

from __future__ import annotations

import re
import secrets
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from e2e import peers, ports, processes
from e2e.conformance import cases, differences, report
from e2e.conformance.api import Api
from e2e.conformance.driver import CaseFailed, Side, run_case
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO

CASES = REPO / "conformance" / "cases"
DIFFERENCES = REPO / "conformance" / "differences.yaml"
READY_TIMEOUT = 120.0


@dataclass
class Ledger:
    """Which cases ran to their end in this session, and what each entry explained there."""

    completed: set[str] = field(default_factory=set)
    used: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, str] = field(default_factory=dict)

    def add(self, case: str, entries: list[differences.Entry], used: dict[str, int]) -> None:
        self.completed.add(case)
        for entry in entries:
            count = used.get(entry.id, 0)
            self.used[entry.id] = self.used.get(entry.id, 0) + count
            if entry.gap and count:
                self.gaps[entry.id] = entry.reason


LEDGER = Ledger()


@dataclass
class Environment:
    plane: ControlPlane
    api: Api
    upstream: peers.Peer
    workdir: Path


@pytest.fixture(scope="session")
def conformance_environment() -> Iterator[Environment]:
    """Upstream's manager built, one control plane with the project's CRDs and RBAC."""
    processes.install_signal_handlers()
    upstream = peers.ensure_peer(peers.METAL3_IPAM)
    with (
        tempfile.TemporaryDirectory(prefix="capi-ipam-conformance-") as workdir,
        # Without Cluster API's manager: both controllers read Clusters as written, and its
        # webhook would refuse the bare Clusters the cases use to say "paused" or "missing".
        ControlPlane("conformance", cluster_api=False) as plane,
    ):
        api = Api(plane.server, plane.pki.ca_cert, plane.pki.admin_cert, plane.pki.admin_key)
        yield Environment(plane, api, upstream, Path(workdir))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and file_path.parent == CASES:
        collector: pytest.Collector = CaseFile.from_parent(parent, path=file_path)
        return collector
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The check of entries for every case runs after every case."""
    items.sort(key=lambda item: item.name == "test_entries_for_every_case_still_hold")


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            case = cases.load(self.path)
        except cases.CaseFormatError as err:
            raise self.CollectError(str(err)) from None
        yield CaseItem.from_parent(self, name=case.name, callobj=_case_test(case))


class CaseItem(pytest.Function):
    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"conformance case {self.name}"


def _namespace(case: str, side: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")[:40].strip("-")
    return f"cf-{slug}-{side}-{secrets.token_hex(2)}"


def _wait_ready(url: str, what: str, log_tail: Callable[[], str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise CaseFailed(f"{what} not ready at {url} after {READY_TIMEOUT:.0f}s:\n{log_tail()}")


def _ours(env: Environment, namespace: str, name: str) -> ControllerRunner:
    """Our controller under its shipped RBAC, serving only ``namespace``."""
    health, metrics = ports.free_port(), ports.free_port()
    command = [
        sys.executable,
        "-m",
        "ipam",
        "run",
        f"--namespace={namespace}",
        f"--health-port={health}",
        f"--metrics-port={metrics}",
        "--bind-address=127.0.0.1",
    ]
    runner = ControllerRunner(env.plane, env.workdir, name=name, command=command)
    runner.health_port = health
    runner.metrics_port = metrics
    return runner


def _case_test(case: cases.Case) -> Callable[..., None]:
    def conformance_case(conformance_environment: Environment) -> None:
        env = conformance_environment
        entries = differences.load(DIFFERENCES)
        up_ns, our_ns = _namespace(case.name, "up"), _namespace(case.name, "ours")
        for namespace in (up_ns, our_ns):
            env.api.create_namespace(namespace)
        upstream = peers.metal3_ipam(
            env.plane, env.workdir / case.name, namespace=up_ns, peer=env.upstream
        )
        ours = _ours(env, our_ns, f"ours-{case.name}")
        try:
            upstream.start(READY_TIMEOUT)
            ours.start()
            _wait_ready(
                f"http://127.0.0.1:{ours.health_port}/readyz", "our controller", ours.log_tail
            )
            sides = [Side("upstream", up_ns, upstream), Side("ours", our_ns, ours)]
            results = run_case(env.api, case, sides)
        finally:
            ours.stop()
            upstream.stop()
            for namespace in (up_ns, our_ns):
                env.api.delete_namespace(namespace)
        found = [d for result in results for d in result.differences]
        verdict = differences.judge(entries, found)
        stale = differences.stale(entries, verdict.used, [case.name])
        LEDGER.add(case.name, entries, verdict.used)
        if not verdict.ok or stale:
            raise CaseFailed(report.render(case.name, verdict, stale, results))

    conformance_case.__doc__ = case.description
    return conformance_case


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the listed gaps: differences that pass only because the file admits them."""
    if LEDGER.gaps:
        terminalreporter.section("compatibility gaps listed in " + report.DIFFERENCES_FILE)
        for key, reason in sorted(LEDGER.gaps.items()):
            terminalreporter.write_line(f"{key}: {reason}")


def entries_for_every_case_still_hold() -> None:
    """Every entry explains at least one difference in the cases it names (all of them run)."""
    every = {path.stem for path in CASES.glob("*.yaml")}
    missing = every - LEDGER.completed
    if missing:
        pytest.skip(f"judged only when every case ran to its end; not run: {sorted(missing)}")
    entries = differences.load(DIFFERENCES)
    unused = [entry for entry in entries if LEDGER.used.get(entry.id, 0) == 0]
    if unused:
        lines = [
            f"  {e.id}: {', '.join(e.objects)} at {', '.join(e.paths) or '(whole object)'}"
            for e in unused
        ]
        raise CaseFailed(
            f"entries of {report.DIFFERENCES_FILE} that explained nothing in any case "
            "(remove them, or add the case that shows them):\n" + "\n".join(lines)
        )
