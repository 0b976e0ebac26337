"""The differences file: what it explains passes, anything else or a wrong entry fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.conformance import cases, differences
from e2e.conformance.compare import ABSENT, Difference
from e2e.toolchain import REPO

OUT_OF_BOUNDS = Difference(
    "preallocations",
    "2. apply IPClaim/outside",
    "IPClaim/outside",
    ".status.errorMessage",
    "Pre-allocated IP out of bond",
    "Pre-allocated IP out of bounds",
)


def entries(text: str, tmp_path: Path) -> list[differences.Entry]:
    path = tmp_path / "differences.yaml"
    path.write_text(text)
    return differences.load(path)


TEXT_ENTRY = """
differences:
  - id: out-of-bounds-text
    reason: we follow upstream main's spelling
    cases: [preallocations]
    object: IPClaim/*
    path: .status.errorMessage
    upstream: Pre-allocated IP out of bond
    ours: Pre-allocated IP out of bounds
"""


def test_a_declared_difference_is_explained(tmp_path: Path) -> None:
    verdict = differences.judge(entries(TEXT_ENTRY, tmp_path), [OUT_OF_BOUNDS])
    assert verdict.ok
    assert verdict.used == {"out-of-bounds-text": 1}


def test_an_undeclared_difference_fails(tmp_path: Path) -> None:
    other = Difference("preallocations", "3. x", "IPClaim/a", ".status.address", None, ABSENT)
    verdict = differences.judge(entries(TEXT_ENTRY, tmp_path), [OUT_OF_BOUNDS, other])
    assert not verdict.ok
    assert verdict.undeclared == [other]


def test_a_changed_error_text_breaks_the_entry(tmp_path: Path) -> None:
    changed = Difference(
        OUT_OF_BOUNDS.case,
        OUT_OF_BOUNDS.step,
        OUT_OF_BOUNDS.object,
        OUT_OF_BOUNDS.path,
        OUT_OF_BOUNDS.upstream,
        "Pre-allocated IP is out of range",
    )
    verdict = differences.judge(entries(TEXT_ENTRY, tmp_path), [changed])
    assert not verdict.ok
    [(entry, difference, problems)] = verdict.broken
    assert entry.id == "out-of-bounds-text"
    assert difference == changed
    assert problems == [
        "ours: expected 'Pre-allocated IP out of bounds', found 'Pre-allocated IP is out of range'"
    ]


def test_an_entry_is_only_about_the_cases_it_names(tmp_path: Path) -> None:
    elsewhere = Difference("ipv6", "1. x", "IPClaim/outside", ".status.errorMessage", "a", "b")
    verdict = differences.judge(entries(TEXT_ENTRY, tmp_path), [elsewhere])
    assert verdict.undeclared == [elsewhere]


def test_an_entry_that_explains_nothing_is_stale(tmp_path: Path) -> None:
    listed = entries(TEXT_ENTRY, tmp_path)
    verdict = differences.judge(listed, [])
    assert [e.id for e in differences.stale(listed, verdict.used, ["preallocations"])] == [
        "out-of-bounds-text"
    ]
    assert differences.stale(listed, verdict.used, ["ipv6"]) == []


@pytest.mark.parametrize(
    ("wanted", "found", "holds"),
    [
        pytest.param("<absent>", ABSENT, True, id="absent"),
        pytest.param("<absent>", "x", False, id="absent-but-there"),
        pytest.param("<present>", {"a": 1}, True, id="present"),
        pytest.param("<present>", ABSENT, False, id="present-but-absent"),
        pytest.param(
            {"matches": "allocated from pool"}, "Address 1 allocated from pool p", True, id="regex"
        ),
        pytest.param(
            {"matches": "^Released"}, {"type": "Normal", "messages": ["x"]}, False, id="regex-json"
        ),
        pytest.param({"matches": '"type": "Normal"'}, {"type": "Normal"}, True, id="regex-on-json"),
        pytest.param({"matches": "x"}, ABSENT, False, id="regex-absent"),
        pytest.param([1, 2], [1, 2], True, id="literal"),
    ],
)
def test_values(wanted: object, found: object, holds: bool) -> None:
    assert differences.value_matches(wanted, found) is holds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "differences: [{id: a, object: IPPool/x}]", "'reason' is required", id="reason"
        ),
        pytest.param(
            "differences: [{id: a, reason: r, object: IPPool}]", "object is Kind/name", id="ref"
        ),
        pytest.param(
            "differences: [{id: a, reason: r, object: IPPool/x, colour: red}]",
            "unknown keys",
            id="key",
        ),
        pytest.param(
            "differences: [{id: a, reason: r, object: A/x}, {id: a, reason: r, object: A/y}]",
            "used twice",
            id="twice",
        ),
        pytest.param("{}", "'differences' list", id="shape"),
    ],
)
def test_a_malformed_file_says_what_is_wrong(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(differences.DifferencesFormatError, match=message):
        entries(text, tmp_path)


def test_the_project_file_is_well_formed_and_names_only_existing_cases() -> None:
    listed = differences.load(REPO / "conformance" / "differences.yaml")
    known = {case.name for case in cases.load_all(REPO / "conformance" / "cases")}
    for entry in listed:
        assert entry.every_case or set(entry.cases) <= known, entry.id
        assert len(entry.reason) > 20, f"{entry.id}: say why we differ"


TWO_ENTRIES = """
differences:
  - id: bound
    reason: ours writes Ready=True with a reason
    object: IPAddressClaim/*
    path: .status.conditions
    upstream: <absent>
    ours: {matches: Allocated}
  - id: exhausted
    reason: ours adds observedGeneration
    object: IPAddressClaim/*
    path: .status.conditions
    upstream: {matches: PoolExhausted}
    ours: {matches: observedGeneration}
"""


def test_the_entry_that_holds_explains_a_difference_others_also_locate(tmp_path: Path) -> None:
    exhausted = Difference(
        "c",
        "1. x",
        "IPAddressClaim/k",
        ".status.conditions",
        [{"reason": "PoolExhausted"}],
        [{"reason": "PoolExhausted", "observedGeneration": 1}],
    )
    verdict = differences.judge(entries(TWO_ENTRIES, tmp_path), [exhausted])
    assert verdict.ok
    assert verdict.used == {"bound": 0, "exhausted": 1}


def test_when_no_locating_entry_holds_the_first_is_broken(tmp_path: Path) -> None:
    odd = Difference("c", "1. x", "IPAddressClaim/k", ".status.conditions", "x", "y")
    verdict = differences.judge(entries(TWO_ENTRIES, tmp_path), [odd])
    assert [entry.id for entry, _, _ in verdict.broken] == ["bound"]
