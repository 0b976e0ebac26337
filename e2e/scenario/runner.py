"""Run a scenario: the steps in order until one fails, then the invariants on each touched cluster."""

from __future__ import annotations

import time
from pathlib import Path

from e2e.scenario import allocations, invariants, steps
from e2e.scenario.environment import Environment
from e2e.scenario.errors import Mismatch
from e2e.scenario.model import Scenario
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
) -> Run:
    """Run it; raise :class:`ScenarioFailed` with everything a reader needs, or return the run."""
    run = Run(env, namespace, suffix, repo_root, interval=interval)
    shown = shown_path or str(scenario.path)
    for step in scenario.steps:
        started = time.monotonic()
        try:
            steps.ACTIONS[step.action](run, step)
        except Mismatch as mismatch:
            raise ScenarioFailed(
                scenario, shown, step=step, mismatch=mismatch, logs=env.controller_logs(LOG_LINES)
            ) from None
        except Exception as error:
            raise ScenarioFailed(
                scenario, shown, step=step, error=error, logs=env.controller_logs(LOG_LINES)
            ) from error
        finally:  # pytest shows this with the failure (or live with -s): where time went
            print(f"{step.title}: {time.monotonic() - started:.1f}s", flush=True)
    logs = env.controller_logs
    started = time.monotonic()
    try:
        failed = settled_invariants(run, scenario)
    except Mismatch as mismatch:
        raise ScenarioFailed(scenario, shown, mismatch=mismatch, logs=logs(LOG_LINES)) from None
    except Exception as error:
        raise ScenarioFailed(scenario, shown, error=error, logs=logs(LOG_LINES)) from error
    finally:
        print(f"invariants on {', '.join(run.touched)}: {time.monotonic() - started:.1f}s")
    if failed:
        raise ScenarioFailed(
            scenario, shown, invariants=failed, logs=env.controller_logs(LOG_LINES)
        )
    return run


def settled_invariants(run: Run, scenario: Scenario) -> dict[str, dict[str, list[str]]]:
    """Failing invariants by cluster, once they stop changing or the settle time is up."""
    names = scenario.checked_invariants
    failed: dict[str, dict[str, list[str]]] = {}

    def all_hold() -> None:
        failed.clear()
        for cluster in run.touched:
            ledger = allocations.read_ledger(run.env.client(cluster), run.namespace)
            found = invariants.check(ledger, names)
            if found:
                failed[cluster] = found
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
