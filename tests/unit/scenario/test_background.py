"""Background blocks on the in-memory environment: they run beside the foreground, end at a
join or before the invariants, and the first failure anywhere stops everything and is
reported with the step that failed and the steps it stopped.

Each test is built so that a runner running the block in line (not at the same time)
would fail it: the block and the foreground wait for each other's objects.
"""

from __future__ import annotations

import threading
from pathlib import Path

from e2e.scenario.manifests import Kind, ObjectRef
from e2e.scenario.run import Run

from .fakes import FakeClient, FakeEnvironment
from .test_runner import NAMESPACE, address, claim, config, failure_of, pool, run_yaml

CONFIG_MAP = Kind("v1", "ConfigMap")


def cm(name: str) -> str:
    return f"{{apiVersion: v1, kind: ConfigMap, metadata: {{name: {name}}}}}"


def test_a_block_runs_while_the_foreground_goes_on(tmp_path: Path) -> None:
    run, env = run_yaml(
        tmp_path,
        f"""
        description: the block waits for the foreground, the foreground for the block
        steps:
          - name: the burst
            background:
              id: burst
              steps:
                - wait: {{timeout: 5, objects: {cm("go")}}}
                - generate:
                    count: 3
                    template: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: "b-{{{{ i }}}}"}}}}
          - apply: {cm("go")}
          - wait: {{timeout: 5, objects: {cm("b-2")}}}
          - join: burst
        """,
    )

    names = [o["metadata"]["name"] for o in env.clients["source"].list(CONFIG_MAP, NAMESPACE)]
    assert sorted(names) == ["b-0", "b-1", "b-2", "go"]
    assert run.touched == ["source"]


def test_a_claim_is_deleted_while_a_move_is_in_progress(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    for obj in (pool(), claim("m1", "p-10-0-0-10"), address("p-10-0-0-10", "10.0.0.10", "m1")):
        source.put(obj)
    source.put(claim("m2", "p-10-0-0-10"))
    claim_key = ("ipam.metal3.io/v1alpha1", "IPClaim", NAMESPACE, "m2")

    def a_move_that_lasts_until_m2_is_deleted() -> None:
        source.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("moving")})
        for _ in range(500):
            with source.lock:
                if claim_key not in source.objects:
                    return
            threading.Event().wait(0.01)
        raise AssertionError("nothing deleted m2 while the move was running")

    env.on_move.append(a_move_that_lasts_until_m2_is_deleted)

    run_yaml(
        tmp_path,
        f"""
        description: a claim deleted in the source while clusterctl is still moving
        steps:
          - background:
              id: meanwhile
              steps:
                - name: the move has begun
                  wait: {{timeout: 5, objects: {cm("moving")}}}
                - delete: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, metadata: {{name: m2}}}}
          - move: {{}}
          - join: meanwhile
        """,
        env,
    )

    assert env.actions == ["move t-ns from source to target within 300"]


def test_a_value_captured_in_a_block_is_there_after_its_join(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].put(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": NAMESPACE}}
    )

    run, _ = run_yaml(
        tmp_path,
        f"""
        description: capture in the block, use it after the join
        steps:
          - background:
              id: reader
              steps:
                - capture:
                    uid: {{object: {cm("a")}, path: .metadata.uid}}
                - snapshot: during
          - join: reader
          - apply: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: "b-{{{{ uid }}}}"}}}}
          - expect: {{snapshot: during}}
        """,
        env,
    )

    uid = run.captured["uid"]
    assert env.clients["source"].get(ObjectRef(CONFIG_MAP, f"b-{uid}", NAMESPACE)) is not None
    assert "during" in run.snapshots


def test_a_block_never_joined_is_joined_before_the_invariants(tmp_path: Path) -> None:
    text = failure_of(
        tmp_path,
        """
        description: the block leaves a duplicate behind after the last step
        steps:
          - background:
              id: late
              steps:
                - sleep: 0.5
                - apply:
                    - apiVersion: ipam.metal3.io/v1alpha1
                      kind: IPAddress
                      metadata: {name: a, finalizers: [ipaddress.ipam.metal3.io]}
                      spec: {address: 10.0.0.10, pool: {name: pool-a}, claim: {name: gone}}
                    - apiVersion: ipam.metal3.io/v1alpha1
                      kind: IPAddress
                      metadata: {name: b, finalizers: [ipaddress.ipam.metal3.io]}
                      spec: {address: 10.0.0.10, pool: {name: pool-a}, claim: {name: gone}}
          - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: unrelated}}
        """,
    )

    assert "invariants failed after the last step" in text
    assert "10.0.0.10 is held 2 times" in text


def test_a_failing_block_fails_the_scenario_and_stops_the_foreground_wait(
    tmp_path: Path,
) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]

    def mark_the_foreground_polling(client: FakeClient) -> None:
        if threading.current_thread() is threading.main_thread():
            marker = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("polling")}
            client.put(marker)

    source.hooks.append(mark_the_foreground_polling)
    text = failure_of(
        tmp_path,
        f"""
        description: the block expects what is not there while the foreground waits long
        steps:
          - background:
              id: checker
              steps:
                - wait: {{timeout: 60, objects: {cm("polling")}}}
                - name: a wrong expectation
                  expect: {{objects: {cm("missing")}}}
          - name: waits for something nobody makes
            wait: {{timeout: 600, objects: {cm("never")}}}
          - apply: {cm("after")}
        """,
        env,
    )

    assert text.splitlines()[0] == (
        'scenario scenarios/unit/scenario.yaml: step 1.2 "a wrong expectation" '
        "(expect, cluster source, in background block checker) failed"
    )
    assert "what: ConfigMap t-ns/missing does not exist" in text
    assert "stopped because of the failure:\n" in text
    assert '  - step 2 "waits for something nobody makes" (wait, cluster source)' in text
    assert "step 3" not in text


def test_a_failing_foreground_step_stops_the_blocks_and_reports_them(tmp_path: Path) -> None:
    run_env = FakeEnvironment()
    text = failure_of(
        tmp_path,
        f"""
        description: the foreground fails while a block is still waiting
        steps:
          - background:
              id: waiter
              steps:
                - name: waits long
                  wait: {{timeout: 600, objects: {cm("never")}}}
                - apply: {cm("not-reached")}
          - name: wrong
            expect: {{objects: {cm("missing")}}}
        """,
        run_env,
    )

    assert 'step 2 "wrong" (expect, cluster source) failed\n' in text
    assert '  - step 1.1 "waits long" (wait, cluster source, in background block waiter)' in text
    assert run_env.clients["source"].objects == {}


def test_two_steps_failing_at_once_are_both_reported(tmp_path: Path) -> None:
    env = FakeEnvironment()
    both_running = threading.Barrier(2, timeout=5)
    env.clients["source"].hooks.append(lambda c: both_running.wait())

    text = failure_of(
        tmp_path,
        f"""
        description: block and foreground each read, meet, and fail
        steps:
          - background:
              id: one
              steps:
                - name: block check
                  expect: {{objects: {cm("x")}}}
          - name: foreground check
            expect: {{objects: {cm("y")}}}
        """,
        env,
    )

    assert "failed (and 1 more step(s))" in text.splitlines()[0]
    assert "also failed: step" in text
    assert "ConfigMap t-ns/x does not exist" in text
    assert "ConfigMap t-ns/y does not exist" in text


def test_an_error_in_a_block_is_reported_like_a_foreground_one(tmp_path: Path) -> None:
    text = failure_of(
        tmp_path,
        f"""
        description: the block deletes what does not exist
        steps:
          - background:
              id: b
              steps:
                - delete: {cm("ghost")}
          - join: b
          - apply: {cm("after")}
        """,
    )

    assert "step 1.1 (delete, cluster source, in background block b) failed" in text
    assert 'error: source: Error from server (NotFound): "ghost"' in text


def test_the_run_keeps_captures_and_snapshots_whole_under_many_threads(tmp_path: Path) -> None:
    writers, rounds = 6, 300
    run = Run(FakeEnvironment(), NAMESPACE, "s", tmp_path)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(rounds):
                run.capture(f"v{n}_{i}", i)
                run.record_snapshot(f"s{n}_{i}", {"claims": {}, "addresses": {}})
                run.touch("target" if i % 2 else "source")
                assert run.render("{{ namespace }}") == NAMESPACE
                _ = run.variables, run.snapshots
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(run.captured) == writers * rounds
    assert len(run.snapshots) == writers * rounds
    assert sorted(run.touched) == ["source", "target"]
