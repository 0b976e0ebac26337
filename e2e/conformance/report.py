"""What a failing case prints: each unexplained difference, then upstream beside ours as YAML."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from e2e.conformance.compare import ABSENT, Difference
from e2e.conformance.differences import Entry, Verdict
from e2e.conformance.driver import StepResult
from e2e.scenario.diff import to_yaml

DIFFERENCES_FILE = "conformance/differences.yaml"
MAX_OBJECT_DIFFS = 6


def _value(value: Any) -> str:
    if value == ABSENT:
        return ABSENT
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True)


def _where(difference: Difference) -> str:
    return f"{difference.object} at {difference.path or '(the whole object)'}"


def _grouped(found: Sequence[Difference]) -> dict[tuple[str, str, str, str], list[str]]:
    """The same difference seen after several steps, listed once with those steps."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for d in found:
        key = (d.object, d.path, _value(d.upstream), _value(d.ours))
        groups.setdefault(key, []).append(d.step)
    return groups


def _steps(labels: list[str]) -> str:
    if len(labels) == 1:
        return f"step {labels[0]!r}"
    numbers = [label.split(".", 1)[0] for label in labels]
    return f"steps {', '.join(numbers)} (first: {labels[0]!r})"


def side_by_side(upstream: Any, ours: Any) -> str:
    """``--- upstream`` / ``+++ ours``: a unified diff of the two objects as YAML."""
    lines = difflib.unified_diff(
        to_yaml(None if upstream == ABSENT else upstream).splitlines(keepends=True),
        to_yaml(None if ours == ABSENT else ours).splitlines(keepends=True),
        fromfile="upstream",
        tofile="ours",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def render(
    case: str,
    verdict: Verdict,
    stale: Sequence[Entry],
    results: Sequence[StepResult],
) -> str:
    out = [
        f"conformance case {case}: {len(verdict.undeclared)} difference(s) not in "
        f"{DIFFERENCES_FILE}, {len(verdict.broken)} that an entry there does not describe, "
        f"{len(stale)} stale entr{'y' if len(stale) == 1 else 'ies'}"
    ]
    if verdict.undeclared:
        out.append("\nnot declared (upstream v1.13.2 and ours disagree here):")
        for (obj, path, up, ours), steps in _grouped(verdict.undeclared).items():
            out.append(f"  {obj} at {path or '(the whole object)'}, after {_steps(steps)}")
            out.append(f"      upstream: {up}")
            out.append(f"      ours:     {ours}")
    if verdict.broken:
        out.append("\ndeclared, but the entry does not hold:")
        grouped: dict[tuple[str, str, str], list[str]] = {}
        reasons = {}
        for entry, d, problems in verdict.broken:
            key = (entry.id, _where(d), "; ".join(problems))
            grouped.setdefault(key, []).append(d.step)
            reasons[entry.id] = entry.reason
        for (entry_id, where, text), steps in grouped.items():
            out.append(f"  {entry_id} ({reasons[entry_id]})")
            out.append(f"    {where}, after {_steps(steps)}: {text}")
    if stale:
        out.append("\nstale entries (they explain nothing any more; remove them or fix the case):")
        out.extend(
            f"  {entry.id}: {', '.join(entry.objects)} at {', '.join(entry.paths) or '(whole object)'}"
            for entry in stale
        )
    shown: list[str] = []
    wanted = [*verdict.undeclared, *(d for _, d, _ in verdict.broken)]
    for d in wanted:
        if d.object in shown or len(shown) >= MAX_OBJECT_DIFFS:
            continue
        shown.append(d.object)
        result = next((r for r in results if r.label == d.step), None)
        if result is None:
            continue
        pair = [result.snapshots[side].get(d.object, ABSENT) for side in ("upstream", "ours")]
        out.append(f"\n{d.object} after step {d.step!r}, upstream beside ours:")
        out.append(side_by_side(*pair).rstrip("\n"))
    return "\n".join(out)
