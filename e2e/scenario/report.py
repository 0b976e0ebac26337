"""A failed scenario reads: the step as written, expected beside found, the controllers' last words."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import yaml

from e2e.scenario import diff
from e2e.scenario.errors import Mismatch, ScenarioError
from e2e.scenario.kube import KubectlFailed
from e2e.scenario.model import Scenario, Step

LOG_LINES = 50
DIFF_LINES = 200


@dataclass
class ScenarioFailed(ScenarioError):
    """A scenario failed at a step, or in the invariants after its last step."""

    scenario: Scenario
    shown_path: str
    step: Step | None = None
    mismatch: Mismatch | None = None
    error: BaseException | None = None
    invariants: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.headline)

    @property
    def headline(self) -> str:
        if self.step is not None:
            return f"{self.shown_path}: {self.step.title} failed"
        return f"{self.shown_path}: invariants failed after the last step"

    def __str__(self) -> str:
        return render(self)


def render(failure: ScenarioFailed) -> str:
    parts = [f"scenario {failure.headline}", _indent(failure.scenario.description)]
    if failure.step is not None:
        parts += ["", "the step, as written:", _indent(_yaml(failure.step.raw))]
    if failure.mismatch is not None:
        parts += _mismatch(failure.mismatch)
    if failure.error is not None:
        parts += _error(failure.error)
    if failure.invariants:
        parts += _invariants(failure)
    parts += _logs(failure.logs)
    return "\n".join(parts)


def _mismatch(mismatch: Mismatch) -> list[str]:
    lines = ["", f"what: {mismatch.summary}"]
    if mismatch.expected is not None or mismatch.found is not None:
        where = f" (first difference at {mismatch.path})" if mismatch.path else ""
        text = diff.unified(mismatch.expected, mismatch.found) or "(no textual difference)\n"
        lines += ["", f"expected beside found{where}:", _indent(_cut(text))]
    return lines


def _cut(text: str, limit: int = DIFF_LINES) -> str:
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], f"... {len(lines) - limit} more lines"])


def _error(error: BaseException) -> list[str]:
    if isinstance(error, ScenarioError | KubectlFailed):
        return ["", f"error: {error}"]
    name = type(error).__name__
    module = type(error).__module__
    if module.startswith("e2e.") and not module.startswith("e2e.scenario"):
        return ["", f"error from the harness ({name}): {error}"]
    trace = "".join(traceback.format_exception(error))
    return ["", f"error ({name}): {error}", _indent(trace)]


def _invariants(failure: ScenarioFailed) -> list[str]:
    lines = ["", f"invariants still failing after {failure.scenario.settle:g} s to settle:"]
    for cluster, failed in failure.invariants.items():
        lines.append(f"  on {cluster}:")
        for name, problems in failed.items():
            lines.append(f"    {name}:")
            lines += [f"      - {p}" for p in problems]
    lines.append(
        "  (a scenario may opt out of one with invariants.skip: [{name: NAME, reason: WHY}])"
    )
    return lines


def _logs(logs: dict[str, str]) -> list[str]:
    if not logs:
        return ["", "controller logs: no controller was started"]
    lines = [""]
    for label, tail in logs.items():
        lines.append(f"controller {label}, last {LOG_LINES} lines:")
        lines.append(_indent(tail.rstrip() or "(empty)"))
    return lines


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=100).rstrip()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.rstrip("\n").split("\n"))
