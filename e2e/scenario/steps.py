"""One function per action key; a step acts on ``step.cluster`` unless it names two (move).

``background`` and ``join`` are the runner's own (they start and wait for threads).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from e2e.scenario import allocations, conditions, jsonpath, kube, manifests
from e2e.scenario.errors import Mismatch, MoveFailed, ScenarioError
from e2e.scenario.kube import KubectlFailed
from e2e.scenario.manifests import ObjectRef
from e2e.scenario.model import Step, peer_body
from e2e.scenario.run import Run

DEFAULT_WAIT = 60.0
DEFAULT_READY = 60.0
DEFAULT_CHUNK = 250
SNAPSHOT_SETTLE = 60.0


class ControllerExited(ScenarioError):
    """A controller a step waits for is not running (its log is in the report)."""


Action = Callable[[Run, Step], None]


def apply(run: Run, step: Step) -> None:
    objects = manifests.resolve(step.body, repo_root=run.repo_root, variables=run.variables)
    with _refusal(run, step, f"the apply of {ObjectRef.of(objects[0])}"):
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
    with _refusal(run, step, f"the patch of {ref}"):
        run.client(step.cluster).patch(
            ref, body[patch_type], patch_type=patch_type, subresource=body.get("subresource")
        )


@contextlib.contextmanager
def _refusal(run: Run, step: Step, what: str) -> Iterator[None]:
    """With ``refused``: the write inside must be refused, in exactly those words."""
    if not step.refused:
        yield
        return
    expected = [str(run.render(line)) for line in step.refused]
    try:
        yield
    except KubectlFailed as err:
        found = kube.refusal(err.stderr or str(err))
        if found != expected:
            raise Mismatch(
                f"{what} was refused, but not in the expected words", expected, found
            ) from None
        return
    raise Mismatch(f"{what} was accepted; it should have been refused", expected, "accepted")


def generate(run: Run, step: Step) -> None:
    body = step.body
    start = int(body.get("start", 0))
    chunk = int(body.get("chunk", DEFAULT_CHUNK))
    client = run.client(step.cluster)
    retry = float(body.get("retry", 0))
    numbers = range(start, start + int(body["count"]))
    for first in range(0, len(numbers), chunk):
        run.check_stopping()
        objects = [
            manifests.with_namespace(run.render(body["template"], i=i), run.namespace)
            for i in numbers[first : first + chunk]
        ]
        if retry:
            # A server-side apply is idempotent: a chunk the server took before failing to
            # answer is applied again unchanged, as a client retrying through an outage would.
            run.poll(functools.partial(client.apply, objects), retry)
        else:
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
    instance = body.get("instance", "main")
    run.touch(step.cluster)
    if body["action"] == "ready":
        ready(run, step.cluster, instance, float(body.get("timeout", DEFAULT_READY)))
    else:
        run.env.controller(step.cluster, instance, body["action"], run.render(body.get("args")))


def ready(run: Run, cluster: str, instance: str, timeout: float) -> None:
    """Poll the instance's /readyz until it answers 200; fail at once if it is not running."""

    def answers() -> None:
        probe = run.env.controller_probe(cluster, instance)
        if probe.exit_code is not None:
            raise ControllerExited(
                f"controller {instance}@{cluster} is not running: {probe.detail} (its log is below)"
            )
        if not probe.ready:
            raise Mismatch(
                f"controller {instance}@{cluster} is not ready ({probe.detail}); "
                "a standby waiting for the Lease never is",
            )

    run.poll(answers, timeout)


def peer(run: Run, step: Step) -> None:
    """Start or stop an upstream program beside the controller, serving the first namespace."""
    body = peer_body(run.render(step.body))
    run.touch(step.cluster)
    run.env.peer(
        step.cluster,
        body["name"],
        body["action"],
        namespace=run.namespace,
        args=body.get("args", ()),
    )


def restart(run: Run, step: Step) -> None:
    body = step.body if isinstance(step.body, dict) else {"component": step.body}
    run.touch(step.cluster)
    run.env.restart(step.cluster, body["component"], down=float(body.get("down", 0)))


def move(run: Run, step: Step) -> None:
    """clusterctl move: cluster to cluster, to a backup directory, or from one."""
    body = run.render(step.body)
    timeout = float(body.get("timeout", run.move_timeout))
    if "fromDirectory" in body:
        run.touch(body.get("to", "target"))
        run.env.restore(body["fromDirectory"], body.get("to", "target"), timeout=timeout)
        return
    source = body.get("from", "source")
    run.touch(source)
    if "toDirectory" not in body:
        run.touch(body.get("to", "target"))
    for namespace in _namespaces(run, body.get("namespaces")):
        run.check_stopping()
        if "toDirectory" in body:
            run.env.backup(source, body["toDirectory"], namespace, timeout=timeout)
        elif "refused" in body:
            _refused(run, source, body.get("to", "target"), namespace, body["refused"], timeout)
        else:
            run.env.move(source, body.get("to", "target"), namespace, timeout=timeout)


def _refused(run: Run, source: str, target: str, namespace: str, why: str, timeout: float) -> None:
    """The move must fail, saying something that matches ``why``."""
    try:
        run.env.move(source, target, namespace, timeout=timeout)
    except MoveFailed as failed:
        if not re.search(why, str(failed)):
            raise Mismatch(
                f"clusterctl move of {namespace} failed, but not with /{why}/",
                expected={"refused": why},
                found=str(failed),
            ) from None
        return
    raise Mismatch(
        f"clusterctl move of {namespace} was to be refused (/{why}/), and it succeeded",
        expected={"refused": why},
        found="the move succeeded",
    )


def _namespaces(run: Run, named: list[str] | None) -> list[str]:
    if not named:
        return [run.namespace]
    own = set(run.namespaces.values())
    strangers = [n for n in named if n not in own]
    if strangers:
        raise Mismatch(
            f"move.namespaces: {', '.join(strangers)} is not a namespace of this scenario "
            f"({', '.join(f'{k}={v}' for k, v in run.namespaces.items())})"
        )
    return named


def snapshot(run: Run, step: Step) -> None:
    """Record the allocations once no claim is in flight (its address made, its status not yet).

    A pool's ``used`` counts an address as soon as it exists, so a wait on it can pass
    while the last claims have not been told; a snapshot taken then would record them as
    unbound. A claim still in flight after ``SNAPSHOT_SETTLE`` seconds fails the step.
    """
    client = run.client(step.cluster)

    def settled() -> dict[str, Any]:
        taken, pending = allocations.snapshot_and_in_flight(client, run.namespaces)
        if pending:
            shown = pending[:10] + ([f"... {len(pending) - 10} more"] if len(pending) > 10 else [])
            raise Mismatch(
                f"snapshot '{step.body}' on {step.cluster}: {len(pending)} claim(s) in flight",
                expected="every claim an address object names is bound to an address",
                found=shown,
            )
        return taken

    run.record_snapshot(step.body, run.poll(settled, SNAPSHOT_SETTLE))


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
        run.capture(variable, values[0])


def sleep(run: Run, step: Step) -> None:
    run.sleep(float(step.body))


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
    "peer": peer,
}
