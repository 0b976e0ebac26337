"""A failed scenario reads: each failed step as written, expected beside found, what was
stopped because of it, and the controllers' last words with the path of each whole log."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

import yaml

from e2e.scenario import diff
from e2e.scenario.background import StepFailure
from e2e.scenario.environment import ControllerLog
from e2e.scenario.errors import Mismatch, ScenarioError
from e2e.scenario.kube import KubectlFailed
from e2e.scenario.model import Scenario, Step

LOG_LINES = 50
DIFF_LINES = 200


@dataclass
class ScenarioFailed(ScenarioError):
    """A scenario failed at one or more steps, or in the invariants after its last step."""

    scenario: Scenario
    shown_path: str
    failures: list[StepFailure] = field(default_factory=list)
    """Failed steps first (earliest first), then the steps stopped because of them."""
    invariants: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    invariant_error: BaseException | None = None
    logs: list[ControllerLog] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.headline)

    @property
    def failed(self) -> list[StepFailure]:
        return [f for f in self.failures if not f.stopped]

    @property
    def step(self) -> Step | None:
        """The step that failed first."""
        return self.failed[0].step if self.failed else None

    @property
    def headline(self) -> str:
        failed = self.failed
        if not failed:
            return f"{self.shown_path}: invariants failed after the last step"
        more = f" (and {len(failed) - 1} more step(s))" if len(failed) > 1 else ""
        return f"{self.shown_path}: {failed[0].step.title} failed{more}"

    def __str__(self) -> str:
        return render(self)


def render(failure: ScenarioFailed) -> str:
    parts = [f"scenario {failure.headline}", _indent(failure.scenario.description)]
    failed = failure.failed
    for number, step_failure in enumerate(failed):
        if number:
            parts += ["", f"also failed: {step_failure.step.title}"]
        parts += _step_failure(step_failure)
    stopped = [f for f in failure.failures if f.stopped]
    if stopped:
        parts += ["", "stopped because of the failure:"]
        parts += [f"  - {f.step.title}" for f in stopped]
    if isinstance(failure.invariant_error, Mismatch):
        parts += _mismatch(failure.invariant_error)
    elif failure.invariant_error is not None:
        parts += _error(failure.invariant_error)
    if failure.invariants:
        parts += _invariants(failure)
    parts += _logs(failure.logs)
    return "\n".join(parts)


def _step_failure(failure: StepFailure) -> list[str]:
    lines = ["", "the step, as written:", _indent(_yaml(failure.step.raw))]
    if failure.mismatch is not None:
        lines += _mismatch(failure.mismatch)
    if failure.error is not None:
        lines += _error(failure.error)
    return lines


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


def _logs(logs: list[ControllerLog]) -> list[str]:
    if not logs:
        return ["", "controller logs: no controller was started"]
    lines = [""]
    for log in logs:
        lines.append(f"controller {log.label}, last {LOG_LINES} lines:")
        lines.append(_indent(log.tail.rstrip() or "(empty)"))
    kept = [log for log in logs if log.path is not None]
    if kept:
        lines += ["", "whole controller logs:"]
        lines += [f"  {log.label.split(' ')[0]}: {log.path}" for log in kept]
    return lines


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=100).rstrip()


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.rstrip("\n").split("\n"))
