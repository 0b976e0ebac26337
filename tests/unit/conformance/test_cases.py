"""Case files: every one in conformance/cases loads; a malformed one names file, step and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.conformance import cases
from e2e.conformance.kinds import Ref
from e2e.toolchain import REPO

CLAIM = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, metadata: {name: c1}, spec: {pool: {name: p}}}"
POOL = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, metadata: {name: p}, spec: {namePrefix: p}}"


def load(text: str, tmp_path: Path) -> cases.Case:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    return cases.load(path)


def test_every_case_of_the_project_loads() -> None:
    found = cases.load_all(REPO / "conformance" / "cases")
    assert len(found) >= 10
    for case in found:
        assert case.steps, case.name


def test_a_list_applies_one_object_per_step_with_the_default_waits(tmp_path: Path) -> None:
    case = load(f"description: d\nsteps:\n  - apply: [{POOL}, {CLAIM}]\n", tmp_path)
    assert [s.name for s in case.steps] == ["apply IPPool/p (1/2)", "apply IPClaim/c1 (2/2)"]
    assert case.steps[0].wait.conditions == {"reconciled": (Ref.parse("IPPool/p"),)}
    assert case.steps[1].wait.conditions == {"settled": (Ref.parse("IPClaim/c1"),)}


def test_a_delete_waits_until_the_objects_are_gone(tmp_path: Path) -> None:
    case = load("description: d\nsteps:\n  - delete: [IPClaim/a, IPAddress/p-1]\n", tmp_path)
    assert case.steps[0].wait.conditions == {
        "gone": (Ref.parse("IPClaim/a"), Ref.parse("IPAddress/p-1"))
    }


def test_an_explicit_wait_replaces_the_default(tmp_path: Path) -> None:
    case = load(
        f"description: d\nsteps:\n  - apply: {CLAIM}\n    wait: {{exists: [IPClaim/c1]}}\n"
        "    settle: 3\n",
        tmp_path,
    )
    assert case.steps[0].wait.conditions == {"exists": (Ref.parse("IPClaim/c1"),)}
    assert case.steps[0].settle == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("steps: [{wait: {}}]", "description: required", id="description"),
        pytest.param("description: d\nsteps: []", "steps: required", id="no-steps"),
        pytest.param(
            f"description: d\nsteps: [{{apply: {CLAIM}, delete: IPClaim/c1}}]",
            "step 1: needs exactly one of",
            id="two-actions",
        ),
        pytest.param(
            "description: d\nsteps: [{delete: Pod/x}]",
            "step 1.delete: unknown kind 'Pod'",
            id="kind",
        ),
        pytest.param(
            "description: d\nsteps: [{delete: IPClaim/x, wait: {ready: [IPClaim/x]}}]",
            r"step 1.wait.ready: unknown condition",
            id="condition",
        ),
        pytest.param(
            "description: d\nsteps: [{delete: IPClaim/x, wait_upstream: {gone: [IPClaim/x]}}]",
            "needs a 'why'",
            id="why",
        ),
        pytest.param(
            "description: d\nsteps: [{apply: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, "
            "metadata: {name: a, namespace: b}}}]",
            "objects carry no namespace",
            id="namespace",
        ),
        pytest.param(
            "description: d\nsteps: [{delete: IPClaim/x, colour: red}]", "unknown keys", id="key"
        ),
    ],
)
def test_a_malformed_case_names_the_step_and_key(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(cases.CaseFormatError, match=message) as raised:
        load(text, tmp_path)
    assert str(tmp_path / "case.yaml") in str(raised.value)
