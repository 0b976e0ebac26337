"""The pytest side: one item per file, tags as markers, clear collection errors, readable failures.

Each test runs pytest on a small project made by ``pytester``; its conftest swaps the
real clusters for the in-memory environment of ``fakes`` (the runner's own tests only).
The runs are in-process, so the plugin is imported here first: pytester forgets modules
first imported during a run, and a second run would otherwise mix two copies of them.
"""

from __future__ import annotations

import textwrap

import pytest

import e2e.scenario.plugin  # noqa: F401 (imported first: in-process runs share its modules)

from . import fakes

pytest_plugins = ["pytester"]

CONFTEST = f"""
import pytest
from {fakes.__name__} import FakeEnvironment

@pytest.fixture
def scenario_environment():
    return FakeEnvironment()

class FakeNamespaces:
    def ensure(self, count):
        return ["t-pytester", *(f"t-pytester-{{n}}" for n in range(2, count + 1))]

@pytest.fixture
def test_namespaces():
    return FakeNamespaces()
"""

PASSING = """
description: a config map is applied and found
tags: [move, smoke]
invariants: {settle: 0.1}
steps:
  - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: v}}
  - expect:
      objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: t-pytester}}
"""

FAILING = """
description: expects data the object does not have
tags: [restart]
steps:
  - controller: start
  - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: found}}
  - name: the data is what we wanted
    expect:
      objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: wanted}}
"""

MALFORMED = """
description: a wait with a bad timeout
steps:
  - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
  - name: wait for it
    wait:
      timeout: soon
      objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
"""


WITH_PEERS = """
description: CAPM3 runs beside the controller
steps:
  - peer: capm3
  - {cluster: target, peer: {name: incluster, args: [--v=2]}}
  - expect: {absent: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}}
"""

SLOW = """
description: hundreds of claims
tags: [slow]
steps:
  - expect: {absent: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(
        "[pytest]\naddopts = -p e2e.scenario.plugin --strict-markers -p no:hypothesispytest\n"
    )
    pytester.makeconftest(CONFTEST)
    for path, text in {
        "scenarios/move/cluster_moves.yaml": PASSING,
        "scenarios/restart/survives.yaml": FAILING,
        "examples/not_a_scenario.yaml": "apiVersion: v1\nkind: ConfigMap\n",
        "scenarios/README.md": "not yaml",
    }.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return pytester


def test_each_scenario_file_is_one_item_named_after_it(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q")

    result.stdout.fnmatch_lines(
        [
            "scenarios/move/cluster_moves.yaml::cluster_moves",
            "scenarios/restart/survives.yaml::survives",
            "2 tests collected*",
        ]
    )
    assert "not_a_scenario" not in result.stdout.str()


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        pytest.param(["-m", "move"], ["cluster_moves"], id="by tag"),
        pytest.param(["-m", "smoke and not restart"], ["cluster_moves"], id="by tags"),
        pytest.param(["-m", "scenario"], ["cluster_moves", "survives"], id="every scenario"),
        pytest.param(["-m", "cluster"], ["cluster_moves", "survives"], id="needs clusters"),
        pytest.param(["scenarios/restart"], ["survives"], id="by group"),
        pytest.param(["scenarios/move/cluster_moves.yaml"], ["cluster_moves"], id="one file"),
    ],
)
def test_scenarios_are_selected_by_tag_group_or_file(
    project: pytest.Pytester, selection: list[str], selected: list[str]
) -> None:
    result = project.runpytest("--collect-only", "-q", *selection)

    collected = [line.split("::")[1] for line in result.stdout.lines if "::" in line]
    assert collected == selected


def test_a_passing_scenario_passes(project: pytest.Pytester) -> None:
    result = project.runpytest("scenarios/move")

    result.assert_outcomes(passed=1)


def test_a_failing_scenario_shows_the_step_and_expected_beside_found(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest("scenarios/restart")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*scenarios/restart/survives.yaml: step 3 "the data is what we wanted"'
            " (expect, cluster source) failed",
            "the step, as written:",
            "    name: the data is what we wanted",
            "what: ConfigMap t-pytester/a: at .data.k expected 'wanted', found 'found'",
            "expected beside found (first difference at .data.k):",
            "    --- expected",
            "    +++ found",
            "    -  k: wanted",
            "    +  k: found",
            "controller main@source, last 50 lines:",
            "*FAILED scenarios/restart/survives.yaml::survives*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_malformed_scenario_is_a_collection_error_naming_file_step_and_key(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "move" / "broken.yaml").write_text(MALFORMED)

    result = project.runpytest("--collect-only", "-q", "scenarios/move")

    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting scenarios/move/broken.yaml*",
            "scenarios/move/broken.yaml: not a valid scenario:",
            "  - step 2 \"wait for it\" (wait), key wait.timeout: 'soon' is not of type 'number'",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_a_scenario_with_a_peer_step_is_marked_peers_and_not_run_by_default(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "move" / "with_capm3.yaml").write_text(WITH_PEERS)

    result = project.runpytest("scenarios/move")

    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*= 1 scenarios with upstream peers NOT RUN (deselected) =*",
            "not run: scenarios/move/with_capm3.yaml::with_capm3",
            "*`make e2e-peers` runs these scenarios.",
        ]
    )


def test_with_the_peers_option_a_peer_scenario_runs_and_starts_its_peers(
    project: pytest.Pytester,
) -> None:
    (project.path / "scenarios" / "move" / "with_capm3.yaml").write_text(WITH_PEERS)

    collected = project.runpytest("--collect-only", "-q", "--peers", "-m", "peers")
    result = project.runpytest("--peers", "-s", "scenarios/move/with_capm3.yaml")

    assert [line for line in collected.stdout.lines if "::" in line] == [
        "scenarios/move/with_capm3.yaml::with_capm3"
    ]
    result.assert_outcomes(passed=1)
    assert "NOT RUN" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*step 1 (peer, cluster source): *",
            "step 2 (peer, cluster target): *",
        ]
    )


def test_a_slow_scenario_is_not_run_by_default_and_said_so(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "move" / "many.yaml").write_text(SLOW)

    result = project.runpytest("scenarios/move")

    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*= 1 slow scenarios NOT RUN (deselected) =*",
            "not run: scenarios/move/many.yaml::many",
            "*`make e2e` runs every scenario, these included*",
        ]
    )


def test_with_the_slow_option_a_slow_scenario_runs(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "move" / "many.yaml").write_text(SLOW)

    result = project.runpytest("--slow", "scenarios/move")

    result.assert_outcomes(passed=2)
    assert "NOT RUN" not in result.stdout.str()
