"""Every scenario of the suite loads; every broken one is refused with file, step and key named.

Each file in tests/fixtures/scenarios/ states the errors it must produce in ``# error:``
lines at its top: the fixture is the table row.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest

from e2e.scenario import loader, schema
from e2e.scenario.errors import FormatError
from e2e.scenario.model import ACTIONS, INVARIANTS

REPO = Path(__file__).resolve().parents[3]
BROKEN = sorted((REPO / "tests" / "fixtures" / "scenarios").glob("bad_*.yaml"))
SUITE = sorted((REPO / "scenarios").rglob("*.yaml"))


def expected_errors(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [line.split("# error:", 1)[1].strip() for line in lines if line.startswith("# error:")]


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_a_broken_scenario_is_refused_naming_file_step_and_key(path: Path) -> None:
    wanted = expected_errors(path)
    assert wanted, f"{path.name} states no '# error:' line"

    with pytest.raises(FormatError) as caught:
        loader.load(path, repo_root=REPO)

    message = str(caught.value)
    assert message.startswith(f"tests/fixtures/scenarios/{path.name}: not a valid scenario")
    for fragment in wanted:
        assert fragment in message


@pytest.mark.parametrize("path", SUITE, ids=lambda p: str(p.relative_to(REPO)))
def test_every_scenario_of_the_suite_loads(path: Path) -> None:
    scenario = loader.load(path, repo_root=REPO)

    assert scenario.name == path.stem
    assert scenario.description
    assert scenario.steps


def test_the_suite_has_the_first_scenarios() -> None:
    names = {p.relative_to(REPO / "scenarios").as_posix() for p in SUITE}

    assert {
        "move/cluster_moves_with_owned_objects.yaml",
        "faults/objects_survive_apiserver_restart.yaml",
        "faults/objects_survive_etcd_restart.yaml",
    } <= names


def test_the_schema_file_is_a_valid_json_schema_that_knows_every_action_and_invariant() -> None:
    document = json.loads(schema.SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    step = document["$defs"]["step"]

    assert [branch["required"][0] for branch in step["oneOf"]] == list(ACTIONS)
    assert set(ACTIONS) <= set(step["properties"])
    assert document["$defs"]["invariantName"]["enum"] == list(INVARIANTS)


def test_a_step_is_read_with_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "one_step.yaml"
    path.write_text(
        "description: one step\n"
        "tags: [move, slow]\n"
        "invariants:\n"
        "  settle: 3\n"
        "  skip: [{name: no-orphan-addresses, reason: addresses are deleted by hand}]\n"
        "steps:\n"
        "  - {name: pause, sleep: 0.5}\n"
        "  - {cluster: target, controller: {action: kill, instance: second}}\n"
    )

    scenario = loader.load(path, repo_root=tmp_path)

    first, second = scenario.steps
    assert (first.index, first.action, first.body, first.cluster) == (0, "sleep", 0.5, "source")
    assert first.title == 'step 1 "pause" (sleep, cluster source)'
    assert (second.action, second.cluster) == ("controller", "target")
    assert scenario.tags == ("move", "slow")
    assert scenario.settle == 3
    assert "no-orphan-addresses" not in scenario.checked_invariants
    assert len(scenario.checked_invariants) == len(INVARIANTS) - 1


def test_variables_captured_by_an_earlier_step_may_be_used_later(tmp_path: Path) -> None:
    path = tmp_path / "capture.yaml"
    path.write_text(
        "description: capture then use\n"
        "steps:\n"
        "  - capture:\n"
        "      owner_uid:\n"
        "        object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "        path: .metadata.uid\n"
        "  - expect:\n"
        "      objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: b, uid: '{{ owner_uid }}'}}\n"
    )

    assert loader.load(path, repo_root=tmp_path).steps[1].action == "expect"


def test_a_captured_variable_is_unknown_before_its_capture_step(tmp_path: Path) -> None:
    path = tmp_path / "too_early.yaml"
    path.write_text(
        "description: use then capture\n"
        "steps:\n"
        "  - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: '{{ later }}'}}\n"
        "  - capture:\n"
        "      later: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}, path: .x}\n"
    )

    with pytest.raises(FormatError, match="unknown template variable 'later'"):
        loader.load(path, repo_root=tmp_path)


def test_a_file_that_is_not_yaml_at_all_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("description: x\nsteps:\n  - apply: {a: [\n")

    with pytest.raises(FormatError, match=r"(?s)not readable YAML.*broken.yaml.*line 4"):
        loader.load(path, repo_root=tmp_path)


def test_every_whole_scenario_the_readme_shows_is_valid(tmp_path: Path) -> None:
    readme = (REPO / "scenarios" / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    whole = [b for b in blocks if b.startswith("description:")]

    for number, block in enumerate(whole):
        path = tmp_path / f"readme_{number}.yaml"
        path.write_text(block)
        assert loader.load(path, repo_root=REPO).steps
    assert len(whole) >= 5


def test_the_readme_example_is_a_valid_scenario(tmp_path: Path) -> None:
    readme = (REPO / "scenarios" / "README.md").read_text()
    example = readme.split("## A short example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "readme_example.yaml"
    path.write_text(example)

    scenario = loader.load(path, repo_root=REPO)

    assert [s.action for s in scenario.steps][:3] == ["apply", "controller", "wait"]
