"""One function per action key; a step acts on ``step.cluster`` unless it names two (move)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from e2e.scenario import allocations, conditions, jsonpath, manifests
from e2e.scenario.errors import Mismatch
from e2e.scenario.manifests import ObjectRef
from e2e.scenario.model import Step
from e2e.scenario.run import Run

DEFAULT_WAIT = 60.0
DEFAULT_CHUNK = 250

Action = Callable[[Run, Step], None]


def apply(run: Run, step: Step) -> None:
    objects = manifests.resolve(step.body, repo_root=run.repo_root, variables=run.variables)
    run.client(step.cluster).apply(objects)


def delete(run: Run, step: Step) -> None:
    objects = manifests.resolve(
        step.body, repo_root=run.repo_root, variables=run.variables, deleting=True
    )
    run.client(step.cluster).delete([ObjectRef.of(o) for o in objects])


def patch(run: Run, step: Step) -> None:
    body = run.render(step.body)
    ref = ObjectRef.of(body["object"], run.namespace)
    patch_type = "merge" if "merge" in body else "json"
    run.client(step.cluster).patch(
        ref, body[patch_type], patch_type=patch_type, subresource=body.get("subresource")
    )


def generate(run: Run, step: Step) -> None:
    body = step.body
    start = int(body.get("start", 0))
    chunk = int(body.get("chunk", DEFAULT_CHUNK))
    client = run.client(step.cluster)
    numbers = range(start, start + int(body["count"]))
    for first in range(0, len(numbers), chunk):
        objects = [
            manifests.with_namespace(run.render(body["template"], i=i), run.namespace)
            for i in numbers[first : first + chunk]
        ]
        client.apply(objects)


def wait(run: Run, step: Step) -> None:
    checks = _conditions(step.body)

    def all_hold() -> None:
        for check, body in checks:
            check(run, step.cluster, body)

    run.poll(all_hold, float(step.body.get("timeout", DEFAULT_WAIT)))


def expect(run: Run, step: Step) -> None:
    for check, body in _conditions(step.body):
        check(run, step.cluster, body)
    if "unchanged" in step.body:
        conditions.unchanged(run, step.cluster, step.body["unchanged"])


def _conditions(body: dict[str, Any]) -> list[tuple[conditions.Condition, Any]]:
    return [(conditions.CONDITIONS[k], v) for k, v in body.items() if k in conditions.CONDITIONS]


def controller(run: Run, step: Step) -> None:
    body = step.body if isinstance(step.body, dict) else {"action": step.body}
    run.touch(step.cluster)
    run.env.controller(step.cluster, body.get("instance", "main"), body["action"])


def restart(run: Run, step: Step) -> None:
    run.touch(step.cluster)
    run.env.restart(step.cluster, step.body)


def move(run: Run, step: Step) -> None:
    source, target = step.body.get("from", "source"), step.body.get("to", "target")
    run.touch(source)
    run.touch(target)
    run.env.move(source, target, run.namespace)


def snapshot(run: Run, step: Step) -> None:
    ledger = allocations.read_ledger(run.client(step.cluster), run.namespace)
    run.snapshots[step.body] = allocations.snapshot(ledger)


def capture(run: Run, step: Step) -> None:
    client = run.client(step.cluster)
    for variable, source in run.render(step.body).items():
        ref = ObjectRef.of(source["object"], run.namespace)
        found = client.get(ref)
        if found is None:
            raise Mismatch(f"{ref} does not exist", expected=source["object"], found=None)
        values = jsonpath.select(found, source["path"])
        if len(values) != 1 or isinstance(values[0], dict | list):
            raise Mismatch(
                f"{ref} {source['path']}: expected one plain value for {variable}, "
                f"found {values!r}",
            )
        run.captured[variable] = values[0]


def sleep(run: Run, step: Step) -> None:
    time.sleep(float(step.body))


ACTIONS: dict[str, Action] = {
    "apply": apply,
    "delete": delete,
    "patch": patch,
    "generate": generate,
    "wait": wait,
    "expect": expect,
    "controller": controller,
    "restart": restart,
    "move": move,
    "snapshot": snapshot,
    "capture": capture,
    "sleep": sleep,
}
