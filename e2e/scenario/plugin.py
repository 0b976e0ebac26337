"""pytest collects ``scenarios/**/*.yaml``: one item per file, tags as markers, readable failures.

Register with ``pytest_plugins = ["e2e.pytest_plugin", "e2e.scenario.plugin"]`` in the root
conftest. Node ids read ``scenarios/move/cluster_moves.yaml::cluster_moves``; every item
carries the ``scenario`` and ``cluster`` markers plus one marker per tag, so ``-m move``,
``scenarios/move`` and a single file all select as expected. A malformed file is a
collection error naming the file, the step and the key.

A scenario with a ``peer`` step also carries ``peers``: it runs upstream programs that
``make peers`` builds (tens of minutes the first time, so never on CI's path). Such
scenarios are deselected unless pytest runs with ``--peers`` (``make e2e-peers``), and
the session's summary says how many were not run; with ``--peers`` a peer that is not
built fails its scenarios. They are never skipped into a pass.

A scenario tagged ``slow`` (hundreds of claims, minutes of ``clusterctl move``) is likewise
deselected unless pytest runs with ``--slow``: ``make e2e`` and ``tox -e e2e`` pass it, so
the whole suite runs there, while ``make test`` keeps CI inside its time and says which
scenarios it did not run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.scenario import loader
from e2e.scenario.environment import Environment, HarnessEnvironment
from e2e.scenario.errors import FormatError
from e2e.scenario.model import PEERS_MARKER, Scenario
from e2e.scenario.report import ScenarioFailed
from e2e.scenario.runner import run_scenario

SCENARIO_DIR = "scenarios"
BUILTIN_MARKERS = {
    "scenario": "a YAML scenario from scenarios/",
    "cluster": "needs real control planes built by `make tools`",
    PEERS_MARKER: "runs upstream programs built by `make peers`: only with --peers (make e2e-peers)",
}
PEERS_OPTION = "--peers"
SLOW_MARKER = "slow"
SLOW_OPTION = "--slow"
_DESELECTED = pytest.StashKey[dict[str, list[str]]]()

_WHY_NOT_RUN = {
    PEERS_MARKER: (
        "scenarios with upstream peers",
        "They run CAPM3 or the in-cluster IPAM provider beside the controller: `make peers` "
        "builds them (tens of minutes the first time), `make e2e-peers` runs these scenarios.",
    ),
    SLOW_MARKER: (
        "slow scenarios",
        "They take minutes each (hundreds of claims, long moves): `make e2e` runs every "
        "scenario, these included (or pytest with --slow).",
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        PEERS_OPTION,
        action="store_true",
        default=False,
        help="also run the scenarios marked 'peers' (CAPM3, the in-cluster provider; "
        "`make peers` builds them); without it they are deselected and reported",
    )
    parser.addoption(
        SLOW_OPTION,
        action="store_true",
        default=False,
        help="also run the scenarios tagged 'slow' (make e2e does); without it they are "
        "deselected and reported",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in BUILTIN_MARKERS.items():
        _register_marker(config, name, text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the scenarios that need upstream peers unless ``--peers`` was given, and the
    slow ones unless ``--slow`` was."""
    left_out = [
        marker
        for marker, option in ((PEERS_MARKER, PEERS_OPTION), (SLOW_MARKER, SLOW_OPTION))
        if not config.getoption(option)
    ]
    if not left_out:
        return
    kept: list[pytest.Item] = []
    dropped: dict[str, list[pytest.Item]] = {}
    for item in items:
        marker = next(
            (m for m in left_out if isinstance(item, ScenarioItem) and item.get_closest_marker(m)),
            None,
        )
        if marker is None:
            kept.append(item)
        else:
            dropped.setdefault(marker, []).append(item)
    if dropped:
        config.hook.pytest_deselected(items=[i for group in dropped.values() for i in group])
        items[:] = kept
        config.stash[_DESELECTED] = {
            marker: [item.nodeid for item in group] for marker, group in dropped.items()
        }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for marker, nodeids in config.stash.get(_DESELECTED, {}).items():
        what, how = _WHY_NOT_RUN[marker]
        terminalreporter.write_sep("=", f"{len(nodeids)} {what} NOT RUN (deselected)", yellow=True)
        for nodeid in nodeids:
            terminalreporter.write_line(f"not run: {nodeid}")
        terminalreporter.write_line(how)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    try:
        relative = file_path.relative_to(parent.config.rootpath)
    except ValueError:
        return None
    if relative.parts[:1] != (SCENARIO_DIR,):
        return None
    result: pytest.Collector = ScenarioFile.from_parent(parent, path=file_path)
    return result


@pytest.fixture
def scenario_environment(clusters: Any, controllers: Any, tmp_path: Path) -> Iterator[Environment]:
    """The real clusters and controllers, as a scenario sees them; backups go to ``tmp_path``.
    The peers it started are stopped at the end, before its namespaces are deleted."""
    env = HarnessEnvironment(clusters, controllers, tmp_path)
    try:
        yield env
    finally:
        env.stop_peers()


class ScenarioFile(pytest.File):
    """One scenario file: loaded and checked at collection, one item."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = loader.load(self.path, repo_root=self.config.rootpath)
        except FormatError as err:
            raise self.CollectError(str(err)) from None
        shown = loader.display(self.path, self.config.rootpath)
        item = ScenarioItem.from_parent(
            self, name=scenario.name, callobj=_test_function(scenario, shown, self.config.rootpath)
        )
        item.scenario = scenario
        peers = (PEERS_MARKER,) if scenario.peers and PEERS_MARKER not in scenario.tags else ()
        for tag in ("scenario", "cluster", *scenario.tags, *peers):
            _register_marker(self.config, tag, f"scenarios tagged '{tag}'")
            item.add_marker(tag)
        yield item


class ScenarioItem(pytest.Function):
    """A scenario as a pytest item; its fixtures are those of its test function."""

    scenario: Scenario

    def repr_failure(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.name}"


def _test_function(scenario: Scenario, shown: str, repo_root: Path) -> Callable[..., None]:
    def scenario_test(scenario_environment: Environment, test_namespaces: Any) -> None:
        first, *more = test_namespaces.ensure(scenario.namespaces)
        run_scenario(
            scenario,
            scenario_environment,
            namespace=first,
            more_namespaces=more,
            suffix=secrets.token_hex(3),
            repo_root=repo_root,
            shown_path=shown,
        )

    scenario_test.__doc__ = scenario.description
    return scenario_test


def _register_marker(config: pytest.Config, name: str, text: str) -> None:
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: {text}")
