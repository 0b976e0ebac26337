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
_DESELECTED = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        PEERS_OPTION,
        action="store_true",
        default=False,
        help="also run the scenarios marked 'peers' (CAPM3, the in-cluster provider; "
        "`make peers` builds them); without it they are deselected and reported",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in BUILTIN_MARKERS.items():
        _register_marker(config, name, text)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the scenarios that need upstream peers unless ``--peers`` was given."""
    if config.getoption(PEERS_OPTION):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        needs = isinstance(item, ScenarioItem) and item.get_closest_marker(PEERS_MARKER)
        (dropped if needs else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        config.stash[_DESELECTED] = [item.nodeid for item in dropped]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    dropped = config.stash.get(_DESELECTED, [])
    if not dropped:
        return
    terminalreporter.write_sep(
        "=", f"{len(dropped)} scenarios with upstream peers NOT RUN (deselected)", yellow=True
    )
    for nodeid in dropped:
        terminalreporter.write_line(f"not run: {nodeid}")
    terminalreporter.write_line(
        "They run CAPM3 or the in-cluster IPAM provider beside the controller: `make peers` "
        "builds them (tens of minutes the first time), `make e2e-peers` runs these scenarios."
    )


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
