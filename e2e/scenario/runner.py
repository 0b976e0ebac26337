"""Run a scenario: the steps in order (background blocks beside them) until one fails, then
the invariants on each touched cluster, in each of the scenario's namespaces."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from e2e.scenario import allocations, background, invariants, steps
from e2e.scenario.background import StepFailure
from e2e.scenario.environment import Environment
from e2e.scenario.errors import Mismatch, Stopped
from e2e.scenario.model import Scenario, Step
from e2e.scenario.report import LOG_LINES, ScenarioFailed
from e2e.scenario.run import POLL_INTERVAL, Run


def run_scenario(
    scenario: Scenario,
    env: Environment,
    *,
    namespace: str,
    suffix: str,
    repo_root: Path,
    shown_path: str = "",
    interval: float = POLL_INTERVAL,
    more_namespaces: Sequence[str] = (),
) -> Run:
    """Run it; raise :class:`ScenarioFailed` with everything a reader needs, or return the run.

    ``more_namespaces`` are the scenario's ``{{ namespace2 }}`` ...; it must get as many
    as it asks for.
    """
    wanted = scenario.namespaces - 1
    if len(more_namespaces) < wanted:
        raise ValueError(f"{scenario.name} needs {wanted} more namespaces")
    run = Run(
        env,
        namespace,
        suffix,
        repo_root,
        interval=interval,
        more_namespaces=more_namespaces[:wanted],
        move_timeout=scenario.move_timeout,
    )
    shown = shown_path or str(scenario.path)
    failures = _steps(run, scenario)
    if failures:
        raise ScenarioFailed(
            scenario, shown, failures=failures, logs=env.controller_logs(LOG_LINES)
        )
    started = time.monotonic()
    try:
        failed = settled_invariants(run, scenario)
    except Mismatch as mismatch:
        raise ScenarioFailed(
            scenario, shown, invariant_error=mismatch, logs=env.controller_logs(LOG_LINES)
        ) from None
    except Exception as error:
        raise ScenarioFailed(
            scenario, shown, invariant_error=error, logs=env.controller_logs(LOG_LINES)
        ) from error
    finally:
        print(f"invariants on {', '.join(run.touched)}: {time.monotonic() - started:.1f}s")
    if failed:
        raise ScenarioFailed(
            scenario, shown, invariants=failed, logs=env.controller_logs(LOG_LINES)
        )
    return run


def _steps(run: Run, scenario: Scenario) -> list[StepFailure]:
    """Every step, foreground and background; what failed or was stopped, first failure first."""
    blocks = background.Blocks(run, execute)
    found: list[StepFailure] = []
    try:
        for step in scenario.steps:
            if run.stopping.is_set():
                break
            if step.action == "background":
                blocks.start(step)
                print(f"{step.title}: started", flush=True)
                continue
            if step.action == "join":
                started = time.monotonic()
                blocks.join(step.body if isinstance(step.body, list) else [step.body])
                print(f"{step.title}: {time.monotonic() - started:.1f}s", flush=True)
                continue
            failure = execute(run, step)
            if failure is not None:
                found.append(failure)
                run.stopping.set()
    except BaseException:  # pytest's timeout, a skip, Ctrl-C: leave no block running
        run.stopping.set()
        blocks.join_all(grace=background.JOIN_GRACE)
        raise
    blocks.join_all()  # the implicit join before the invariants
    found += blocks.outcomes()
    return sorted(found, key=lambda f: (f.stopped, f.at))


def execute(run: Run, step: Step) -> StepFailure | None:
    """One step, timed; how it failed, or None."""
    started = time.monotonic()
    try:
        steps.ACTIONS[step.action](run, step)
    except Stopped as stop:
        return StepFailure(step, error=stop, stopped=True)
    except Mismatch as mismatch:
        return StepFailure(step, mismatch=mismatch)
    except Exception as error:
        return StepFailure(step, error=error)
    finally:  # pytest shows this with the failure (or live with -s): where time went
        print(f"{step.title}: {time.monotonic() - started:.1f}s", flush=True)
    return None


def settled_invariants(run: Run, scenario: Scenario) -> dict[str, dict[str, list[str]]]:
    """Failing invariants by cluster (and namespace), once they hold or the settle time is up."""
    names = scenario.checked_invariants
    failed: dict[str, dict[str, list[str]]] = {}

    def all_hold() -> None:
        failed.clear()
        for cluster in run.touched:
            for variable, namespace in run.namespaces.items():
                ledger = allocations.read_ledger(run.env.client(cluster), namespace)
                found = invariants.check(ledger, names)
                if found:
                    where = cluster if variable == "namespace" else f"{cluster}, {variable}"
                    failed[where] = found
        if failed:
            raise Mismatch("invariants do not hold")

    if names:
        try:
            run.poll(all_hold, scenario.settle)
        except Mismatch:
            if not failed:
                raise  # not an invariant: the ledger could not be read
            return failed
    return {}
