"""Run one case on both sides: each step acts on both namespaces, waits on both, then compares.

A side is a namespace and the controller that serves only it. A step is done to the
upstream namespace and then to ours at once, and the driver then polls both until the
step's wait holds, every pool's ``status.indexes`` agrees with its address objects, and
nothing has changed for the step's ``settle`` seconds. Only then are the two snapshots
compared, so what is compared is where each side came to rest, never a moment of a race.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from e2e.conformance import observe
from e2e.conformance.api import Api, Refused
from e2e.conformance.cases import Case, Step, Wait
from e2e.conformance.compare import Difference, diff_snapshots
from e2e.conformance.kinds import of_manifest

POLL = 0.25


class Controller(Protocol):
    @property
    def running(self) -> bool: ...

    def log_tail(self, lines: int = 40) -> str: ...


@dataclass
class Side:
    """``upstream`` or ``ours``: a namespace and the controller serving it."""

    label: str
    namespace: str
    controller: Controller


class CaseFailed(AssertionError):
    """A side did not come to rest, or its controller died; the message says which and why."""


@dataclass
class StepResult:
    step: Step
    label: str
    snapshots: dict[str, observe.Snapshot]
    differences: list[Difference]


@dataclass
class _Progress:
    unmet: str = "not looked at yet"
    last: observe.Snapshot | None = None
    since: float = 0.0
    done: observe.Snapshot | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _act(api: Api, step: Step, namespace: str) -> dict[str, str]:
    """Do the step in ``namespace``; what the API server refused, by object."""
    refused: dict[str, str] = {}
    try:
        if step.action == "apply":
            api.apply(of_manifest(step.target), namespace, step.target)
        elif step.action == "delete":
            for ref in step.target:
                try:
                    api.delete(ref.kind, namespace, ref.name)
                except Refused as err:
                    refused[str(ref)] = err.message
        elif step.action == "patch":
            ref = step.target["object"]
            api.patch(
                ref.kind,
                namespace,
                ref.name,
                step.target["body"],
                patch_type=step.target["type"],
                subresource=step.target["subresource"],
            )
    except Refused as err:
        refused[step.name] = err.message
    return {k: observe.rename_namespace(v, namespace) for k, v in refused.items()}


def unmet(wait: Wait, snapshot: observe.Snapshot) -> str:
    """What of the wait does not hold yet ("" when everything does)."""
    missing = [
        f"{condition} {ref}"
        for condition, refs in wait.conditions.items()
        for ref in refs
        if condition != "unsynced" and not observe.holds(condition, snapshot, ref)
    ]
    excused = {str(ref) for ref in wait.conditions.get("unsynced", ())}
    pools = [pool for pool in observe.inconsistent_pools(snapshot) if pool not in excused]
    if pools:
        missing.append("status.indexes in line with the address objects of " + ", ".join(pools))
    return "; ".join(missing)


def _settle(
    api: Api,
    sides: list[Side],
    waits: dict[str, Wait],
    step: Step,
    label: str,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, observe.Snapshot]:
    progress = {side.label: _Progress() for side in sides}
    deadline = clock() + step.timeout
    while True:
        for side in sides:
            state = progress[side.label]
            if state.done is not None:
                continue
            if not side.controller.running:
                raise CaseFailed(
                    f"the {side.label} controller exited during step {label!r}:\n"
                    f"{side.controller.log_tail()}"
                )
            snapshot = observe.take(api, side.namespace)
            state.unmet = unmet(waits[side.label], snapshot)
            now = clock()
            if state.unmet:
                state.last = None
            elif snapshot != state.last:
                state.last, state.since = snapshot, now
            elif now - state.since >= step.settle:
                state.done = snapshot
        if all(state.done is not None for state in progress.values()):
            return {
                label: state.done for label, state in progress.items() if state.done is not None
            }
        if clock() > deadline:
            late = [s for s in sides if progress[s.label].done is None]
            lines = [f"step {label!r} did not come to rest within {step.timeout:.0f}s:"]
            for side in late:
                state = progress[side.label]
                lines.append(
                    f"- {side.label} (namespace {side.namespace}): waiting for "
                    f"{state.unmet or f'nothing to change for {step.settle:g}s'}"
                )
                lines.append(f"  last lines of its controller:\n{side.controller.log_tail(25)}")
            raise CaseFailed("\n".join(lines))
        time.sleep(POLL)


def run_step(api: Api, case: Case, step: Step, label: str, sides: list[Side]) -> StepResult:
    refused = {side.label: _act(api, step, side.namespace) for side in sides}
    waits = {
        side.label: (
            step.wait_upstream if side.label == "upstream" and step.wait_upstream else step.wait
        )
        for side in sides
    }
    snapshots = _settle(api, sides, waits, step, label)
    for side in sides:
        if refused[side.label]:
            snapshots[side.label]["Request/refused"] = dict(refused[side.label])
    upstream, ours = snapshots["upstream"], snapshots["ours"]
    return StepResult(step, label, snapshots, diff_snapshots(case.name, label, upstream, ours))


def run_case(
    api: Api,
    case: Case,
    sides: list[Side],
    on_step: Callable[[StepResult], Any] | None = None,
) -> list[StepResult]:
    """Every step in order; the results hold both snapshots and their differences."""
    results = []
    for number, step in enumerate(case.steps, start=1):
        result = run_step(api, case, step, f"{number}. {step.name}", sides)
        results.append(result)
        if on_step is not None:
            on_step(result)
    return results
