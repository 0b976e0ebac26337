"""A failing case reads as: what differs, where, after which steps, and both objects side by side."""

from __future__ import annotations

from pathlib import Path

from e2e.conformance import cases, differences, report
from e2e.conformance.compare import ABSENT, Difference
from e2e.conformance.driver import StepResult

ENTRY = """
differences:
  - id: out-of-bounds-text
    reason: we follow upstream main's spelling
    object: IPClaim/*
    path: .status.errorMessage
    upstream: Pre-allocated IP out of bond
    ours: Pre-allocated IP out of bounds
"""


def test_the_report_groups_steps_and_shows_both_objects(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(ENTRY)
    entries = differences.load(tmp_path / "d.yaml")
    up = {"IPClaim/x": {"status": {"errorMessage": "Pre-allocated IP out of bond"}}}
    ours = {"IPClaim/x": {"status": {"errorMessage": "Pre-allocated IP out of range"}}}
    step = cases.Step("apply IPClaim/x", "wait", None, cases.Wait(), None, 1.0, 1.0)
    results = [
        StepResult(step, label, {"upstream": up, "ours": ours}, []) for label in ("1. a", "2. b")
    ]
    found = [
        Difference(
            "c",
            label,
            "IPClaim/x",
            ".status.errorMessage",
            "Pre-allocated IP out of bond",
            "Pre-allocated IP out of range",
        )
        for label in ("1. a", "2. b")
    ] + [Difference("c", "2. b", "IPAddress/p-1", "", ABSENT, {"spec": {}})]
    verdict = differences.judge(entries, found)
    text = report.render("c", verdict, [], results)
    assert "1 difference(s) not in conformance/differences.yaml, 2 that an entry" in text
    assert "IPAddress/p-1 at (the whole object), after step '2. b'" in text
    assert "      upstream: <absent>" in text
    assert (
        "IPClaim/x at .status.errorMessage, after steps 1, 2 (first: '1. a'): ours: expected "
        "'Pre-allocated IP out of bounds', found 'Pre-allocated IP out of range'" in text
    )
    assert (
        "-  errorMessage: Pre-allocated IP out of bond\n+  errorMessage: Pre-allocated IP out of range"
        in text
    )
