"""Step dispatch, conditions and failure reports, run on the in-memory environment.

Real scenarios run on real clusters; these tests only prove the runner does what each
key says, and that a wrong expectation fails with expected beside found.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from e2e.scenario import kube, loader
from e2e.scenario.environment import Probe
from e2e.scenario.manifests import Kind, ObjectRef
from e2e.scenario.model import Scenario
from e2e.scenario.report import ScenarioFailed
from e2e.scenario.run import Run
from e2e.scenario.runner import run_scenario

from .fakes import FakeClient, FakeEnvironment

NAMESPACE = "t-ns"
CONFIG_MAP = Kind("v1", "ConfigMap")


def run_yaml(
    tmp_path: Path, text: str, env: FakeEnvironment | None = None, settle: float = 0.2
) -> tuple[Run, FakeEnvironment]:
    path = tmp_path / "scenario.yaml"
    body = textwrap.dedent(text)
    if "invariants:" not in body:
        body += f"invariants: {{settle: {settle}}}\n"
    path.write_text(body)
    (tmp_path / "examples").mkdir(exist_ok=True)
    scenario = loader.load(path, repo_root=tmp_path)
    env = env or FakeEnvironment()
    run = run_scenario(
        scenario,
        env,
        namespace=NAMESPACE,
        suffix="abc123",
        repo_root=tmp_path,
        shown_path="scenarios/unit/scenario.yaml",
        interval=0.01,
    )
    return run, env


def failure_of(tmp_path: Path, text: str, env: FakeEnvironment | None = None) -> str:
    with pytest.raises(ScenarioFailed) as caught:
        run_yaml(tmp_path, text, env)
    return str(caught.value)


def test_apply_generate_wait_and_expect_pass_on_what_was_applied(tmp_path: Path) -> None:
    run, env = run_yaml(
        tmp_path,
        """
        description: apply, generate, then check them every way
        steps:
          - apply:
              apiVersion: v1
              kind: ConfigMap
              metadata: {name: "cfg-{{ suffix }}", labels: {role: main}}
              data: {ns: "{{ namespace }}"}
          - generate:
              count: 5
              chunk: 2
              template:
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: "gen-{{ i }}", labels: {role: generated}}
                data: {number: "{{ i }}"}
          - wait:
              timeout: 1
              objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg-abc123}}
              count: {apiVersion: v1, kind: ConfigMap, labelSelector: role=generated, equals: 5}
          - expect:
              objects:
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg-abc123}, data: {ns: t-ns}}
                - {apiVersion: v1, kind: ConfigMap, metadata: {name: gen-4}, data: {number: "4"}}
              absent: {apiVersion: v1, kind: ConfigMap, metadata: {name: gen-5}}
              jsonpath:
                object: {apiVersion: v1, kind: ConfigMap, metadata: {name: gen-2}}
                path: .metadata.labels.role
                equals: generated
              count:
                apiVersion: v1
                kind: ConfigMap
                where: {data: {number: "3"}}
                equals: 1
        """,
    )

    source = env.clients["source"]
    assert len(source.list(CONFIG_MAP, NAMESPACE)) == 6
    assert source.calls == ["apply 1", "apply 2", "apply 2", "apply 1"]
    assert run.touched == ["source"]


def test_patch_delete_capture_and_files_act_on_the_named_cluster(tmp_path: Path) -> None:
    (tmp_path / "examples" / "two.yaml").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "examples" / "two.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: two}, data: {a: b}}\n"
    )
    run, env = run_yaml(
        tmp_path,
        """
        description: files, patches, captures and deletes on the target
        steps:
          - {cluster: target, apply: {file: examples/two.yaml}}
          - cluster: target
            patch:
              object: {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
              merge: {data: {a: null, c: d}}
          - cluster: target
            patch:
              object: {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
              json: [{op: add, path: /data, value: {from: json}}]
          - cluster: target
            capture:
              two_uid:
                object: {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
                path: .metadata.uid
          - cluster: target
            apply:
              apiVersion: v1
              kind: ConfigMap
              metadata: {name: three}
              data: {owner: "{{ two_uid }}"}
          - {cluster: target, delete: {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}}
          - cluster: target
            expect:
              objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: two}, data: {c: d}}
              absent: {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
        """,
    )

    target = env.clients["target"]
    two = target.objects[("v1", "ConfigMap", NAMESPACE, "two")]
    assert two["data"] == {"c": "d"}
    three = target.objects[("v1", "ConfigMap", NAMESPACE, "three")]
    assert three["data"]["owner"] == two["metadata"]["uid"]
    assert env.clients["source"].objects == {}
    assert run.touched == ["target"]


def test_a_workload_cluster_is_a_cluster_with_provisioned_stand_ins_and_deletes_alone(
    tmp_path: Path,
) -> None:
    _, env = run_yaml(
        tmp_path,
        """
        description: the workload Cluster shorthand, applied and deleted
        steps:
          - apply:
              - {workloadCluster: "wl-{{ suffix }}", paused: true, labels: {team: a}}
          - expect:
              objects:
                apiVersion: cluster.x-k8s.io/v1beta2
                kind: Cluster
                metadata: {name: wl-abc123, labels: {team: a}}
                spec:
                  paused: true
                  infrastructureRef:
                    {apiGroup: harness.capi-ipam.dev, kind: HarnessCluster, name: wl-abc123}
                  controlPlaneRef:
                    {apiGroup: harness.capi-ipam.dev, kind: HarnessControlPlane, name: wl-abc123}
          - delete: {workloadCluster: "wl-{{ suffix }}"}
        """,
    )

    source = env.clients["source"]
    assert source.calls[0] == "apply 3"
    assert source.calls[-1] == "delete 1"
    stand_in = "harness.capi-ipam.dev/v1alpha1"
    assert list(source.objects) == [
        (stand_in, "HarnessCluster", NAMESPACE, "wl-abc123"),
        (stand_in, "HarnessControlPlane", NAMESPACE, "wl-abc123"),
    ]
    infrastructure, control_plane = source.objects.values()
    assert infrastructure["status"] == {"initialization": {"provisioned": True}}
    assert control_plane["status"] == {"initialization": {"controlPlaneInitialized": True}}


def test_a_workload_cluster_can_go_to_another_namespace_of_the_scenario(tmp_path: Path) -> None:
    _, env = run_yaml(
        tmp_path,
        """
        description: the shorthand with a namespace
        steps:
          - apply: {workloadCluster: wl2, namespace: elsewhere}
        """,
    )

    placed = sorted((kind, ns) for (_, kind, ns, _) in env.clients["source"].objects)
    assert placed == [
        ("Cluster", "elsewhere"),
        ("HarnessCluster", "elsewhere"),
        ("HarnessControlPlane", "elsewhere"),
    ]


def test_controller_restart_and_move_steps_reach_the_environment(tmp_path: Path) -> None:
    run, env = run_yaml(
        tmp_path,
        """
        description: every world-changing action is passed on
        steps:
          - controller: start
          - {cluster: target, controller: {action: start, instance: second}}
          - controller: {action: kill, instance: main}
          - {cluster: target, restart: etcd}
          - restart: apiserver
          - restart: {component: apiserver, down: 20}
          - move: {}
          - move: {from: target, to: source}
        """,
    )

    assert env.actions == [
        "controller start main on source",
        "controller start second on target",
        "controller kill main on source",
        "restart etcd on target",
        "restart apiserver on source",
        "restart apiserver on source down 20",
        "move t-ns from source to target within 300",
        "move t-ns from target to source within 300",
    ]
    assert run.touched == ["source", "target"]


def test_allocations_after_a_move_equal_the_snapshot_taken_before(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put(claim("m1", "p-10-0-0-10"))
    source.put(address("p-10-0-0-10", "10.0.0.10", "m1"))
    source.put(pool())

    run, _ = run_yaml(
        tmp_path,
        """
        description: snapshot, move, compare
        steps:
          - snapshot: before
          - move: {}
          - name: the status a controller rebuilds after the move (none runs here)
            cluster: target
            patch:
              object: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, metadata: {name: m1}}
              subresource: status
              merge: {status: {address: {name: p-10-0-0-10}}}
          - {cluster: target, expect: {snapshot: before}}
        """,
        env,
    )

    assert run.snapshots["before"]["claims"] == {"IPClaim/m1": "10.0.0.10"}
    assert env.clients["source"].objects == {}
    assert env.clients["target"].calls == ["patch IPClaim.ipam.metal3.io t-ns/m1 merge status"]


def test_a_move_that_loses_a_binding_differs_from_the_snapshot(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put(claim("m1", "p-10-0-0-10"))
    source.put(address("p-10-0-0-10", "10.0.0.10", "m1"))
    source.put(pool())

    text = failure_of(
        tmp_path,
        """
        description: status is dropped by the move and nothing rebuilds it
        steps:
          - snapshot: before
          - move: {}
          - {cluster: target, expect: {snapshot: before}}
        """,
        env,
    )

    assert "what: allocations on target differ from snapshot 'before'" in text
    assert "-  IPClaim/m1: 10.0.0.10\n    +  IPClaim/m1: null" in text


def claim_in_flight() -> FakeEnvironment:
    """A source where IPClaim m1's IPAddress exists and its status does not name it yet."""
    env = FakeEnvironment()
    source = env.clients["source"]
    in_flight = claim("m1", "p-10-0-0-10")
    del in_flight["status"]
    source.put(in_flight)
    source.put(address("p-10-0-0-10", "10.0.0.10", "m1"))
    source.put(pool())
    return env


def test_a_snapshot_waits_for_a_claim_whose_address_exists_to_learn_it(tmp_path: Path) -> None:
    """A controller writes the IPAddress before the claim's status: the snapshot is taken
    once the claim's status names it, never in between (a pool's ``used`` already counts it).
    """
    env = claim_in_flight()

    run, _ = run_yaml(
        tmp_path,
        """
        description: the status lands a moment after the address
        steps:
          - background:
              id: controller
              steps:
                - sleep: 0.3
                - patch:
                    object: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, metadata: {name: m1}}
                    subresource: status
                    merge: {status: {address: {name: p-10-0-0-10}}}
          - snapshot: before
          - join: controller
        """,
        env,
    )

    assert run.snapshots["before"]["claims"] == {"IPClaim/m1": "10.0.0.10"}


def test_a_snapshot_of_a_claim_that_never_learns_its_address_fails_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from e2e.scenario import steps

    monkeypatch.setattr(steps, "SNAPSHOT_SETTLE", 0.2)
    env = claim_in_flight()

    text = failure_of(
        tmp_path,
        """
        description: nothing writes the status
        steps:
          - snapshot: before
        """,
        env,
    )

    assert "still not true after 0.2 s: snapshot 'before' on source" in text
    assert "IPClaim m1 is named by IPAddress p-10-0-0-10 but its status names no address" in text


def test_an_empty_snapshot_equals_an_empty_one_even_without_the_kinds(tmp_path: Path) -> None:
    env = FakeEnvironment()
    for client in env.clients.values():
        client.missing_kinds = {"IPClaim.ipam.metal3.io", "IPPool.ipam.metal3.io"}

    run, _ = run_yaml(
        tmp_path,
        """
        description: no CRDs, no controller
        steps:
          - snapshot: nothing
          - {cluster: target, expect: {snapshot: nothing}}
        """,
        env,
    )

    assert run.snapshots["nothing"] == {"claims": {}, "addresses": {}}


def test_a_wrong_expectation_fails_with_the_step_and_expected_beside_found(
    tmp_path: Path,
) -> None:
    text = failure_of(
        tmp_path,
        """
        description: expects the wrong data
        steps:
          - controller: start
          - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: found}}
          - name: check the data
            expect:
              objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: wanted}}
        """,
    )

    assert 'step 3 "check the data" (expect, cluster source) failed' in text
    assert "the step, as written:" in text
    assert "    name: check the data\n    expect:\n" in text
    assert "what: ConfigMap t-ns/a: at .data.k expected 'wanted', found 'found'" in text
    assert "expected beside found (first difference at .data.k):" in text
    assert "--- expected\n    +++ found\n" in text
    assert "    -  k: wanted\n    +  k: found\n" in text
    assert "controller main@source, last 50 lines:\n    fake log of main: running=True" in text


def test_a_wait_that_never_holds_fails_after_its_timeout(tmp_path: Path) -> None:
    text = failure_of(
        tmp_path,
        """
        description: waits for an object nobody creates
        steps:
          - wait:
              timeout: 0.05
              objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: never}}
        """,
    )

    assert "what: still not true after 0.05 s: ConfigMap t-ns/never does not exist" in text
    assert "+(not found)" in text
    assert "controller logs: no controller was started" in text


def test_a_wait_holds_once_another_writer_catches_up(tmp_path: Path) -> None:
    env = FakeEnvironment()
    reads = {"n": 0}

    def late_writer(client: FakeClient) -> None:
        reads["n"] += 1
        if reads["n"] == 5:
            client.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("late")})

    env.clients["source"].hooks.append(late_writer)

    run_yaml(
        tmp_path,
        """
        description: the object appears on the fifth read
        steps:
          - wait:
              timeout: 2
              objects: {apiVersion: v1, kind: ConfigMap, metadata: {name: late}}
        """,
        env,
    )

    assert reads["n"] >= 5


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        pytest.param(
            "count: {apiVersion: v1, kind: ConfigMap, atLeast: 3}",
            "what: ConfigMap: 1 found, expected at least 3",
            id="count",
        ),
        pytest.param(
            "absent: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}",
            "what: ConfigMap t-ns/a exists",
            id="absent",
        ),
        pytest.param(
            "jsonpath: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},"
            " path: .data.k, matches: '^z'}",
            "what: ConfigMap t-ns/a .data.k: 'v' does not match /^z/",
            id="jsonpath matches",
        ),
        pytest.param(
            "jsonpath: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},"
            " path: .data.gone, exists: true}",
            "what: ConfigMap t-ns/a .data.gone is missing",
            id="jsonpath exists",
        ),
        pytest.param(
            "jsonpath: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},"
            " path: '.data[*]', length: 2}",
            "what: ConfigMap t-ns/a .data[*]: selects 1 values, expected 2",
            id="jsonpath length",
        ),
        pytest.param(
            "events: [{involvedObject: {kind: IPClaim, name: a}, reason: Allocated}]",
            "what: no Event about IPClaim a matches",
            id="events",
        ),
    ],
)
def test_each_condition_says_what_does_not_hold(
    tmp_path: Path, condition: str, message: str
) -> None:
    text = failure_of(
        tmp_path,
        f"""
        description: one condition that does not hold
        steps:
          - apply: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: a}}, data: {{k: v}}}}
          - expect:
              {condition}
        """,
    )

    assert message in text


def test_jsonpath_length_counts_the_entries_of_a_map(tmp_path: Path) -> None:
    run_yaml(
        tmp_path,
        """
        description: a map of two entries
        steps:
          - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {k: v, l: w}}
          - expect:
              jsonpath:
                - {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},
                   path: '.data[*]', length: 2}
                - {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},
                   path: '.data.k', length: 1}
                - {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}},
                   path: '.data.gone', length: 0}
        """,
    )


def test_an_event_matches_on_object_type_reason_and_message(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": config("ev1"),
            "involvedObject": {"kind": "IPClaim", "name": "claim-1"},
            "type": "Normal",
            "reason": "AddressAllocated",
            "message": "allocated 10.0.0.10 from pool-a",
        }
    )

    run_yaml(
        tmp_path,
        r"""
        description: an event
        steps:
          - expect:
              events:
                - involvedObject: {kind: IPClaim, name: claim-1}
                  type: Normal
                  reason: Address.*
                  message: 10\.0\.0\.10
        """,
        env,
    )


def test_unchanged_catches_a_write_during_the_window(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("busy"), "data": {}})
    count = {"n": 0}

    def churn(client: FakeClient) -> None:
        count["n"] += 1
        busy = client.objects[("v1", "ConfigMap", NAMESPACE, "busy")]
        client.put({**busy, "data": {"n": str(count["n"])}})

    source.hooks.append(churn)

    text = failure_of(
        tmp_path,
        """
        description: something keeps writing
        steps:
          - expect:
              unchanged:
                seconds: 0.2
                objects: [{apiVersion: v1, kind: ConfigMap}]
        """,
        env,
    )

    assert "what: ConfigMap busy changed within 0.2 s" in text
    assert "-  n: '1'\n    +  n: '2'" in text


def test_unchanged_passes_when_nothing_writes(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("x")})

    run_yaml(
        tmp_path,
        """
        description: quiet
        steps:
          - expect: {unchanged: {seconds: 0.1}}
          - expect: {unchanged: {seconds: 0.1, objects: [{apiVersion: v1, kind: ConfigMap}]}}
        """,
        env,
    )


def test_a_broken_invariant_fails_the_scenario_after_its_last_step(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put(pool())
    source.put(claim("m1", "p-10-0-0-10"))
    source.put(address("p-10-0-0-10", "10.0.0.10", "m1"))
    source.put(address("p-dup", "10.0.0.10", "m1"))

    text = failure_of(
        tmp_path,
        """
        description: two addresses for one IP
        steps:
          - expect: {count: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPAddress, equals: 2}}
        """,
        env,
    )

    assert "scenarios/unit/scenario.yaml: invariants failed after the last step" in text
    assert "on source:\n    no-duplicate-addresses:\n      - 10.0.0.10 is held 2 times" in text
    assert "invariants.skip" in text


def test_a_scenario_may_skip_one_invariant_with_a_reason(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].put(address("p-orphan", "10.0.0.10", "gone"))
    env.clients["source"].put(pool())

    run_yaml(
        tmp_path,
        """
        description: an orphan on purpose
        invariants:
          settle: 0.1
          skip: [{name: no-orphan-addresses, reason: the test leaves it behind}]
        steps:
          - expect: {count: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPAddress, equals: 1}}
        """,
        env,
    )


GENERATE_THROUGH_AN_OUTAGE = """
    description: a burst goes on through an API server restart
    steps:
      - generate:
          count: 6
          chunk: 2
          {retry}
          template: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: "c-{{{{ i }}}}"}}}}
      - expect: {{count: {{apiVersion: v1, kind: ConfigMap, equals: 6}}}}
    """


def test_a_generate_with_retry_applies_a_refused_chunk_again(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].refused_applies = 3

    run_yaml(tmp_path, GENERATE_THROUGH_AN_OUTAGE.format(retry="retry: 5"), env)

    assert env.clients["source"].calls.count("apply 2") == 6


def test_a_generate_without_retry_fails_at_the_first_refused_chunk(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].refused_applies = 1

    text = failure_of(tmp_path, GENERATE_THROUGH_AN_OUTAGE.format(retry=""), env)

    assert "step 1 (generate, cluster source) failed" in text
    assert "The connection to the server was refused" in text


def test_a_generate_whose_retry_runs_out_says_it_kept_failing(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.clients["source"].refused_applies = 10**9

    text = failure_of(tmp_path, GENERATE_THROUGH_AN_OUTAGE.format(retry="retry: 0.1"), env)

    assert "still failing after 0.1 s" in text
    assert "The connection to the server was refused" in text


def test_a_kubectl_error_fails_the_step_with_its_message(tmp_path: Path) -> None:
    text = failure_of(
        tmp_path,
        """
        description: deletes what does not exist
        steps:
          - delete: {apiVersion: v1, kind: ConfigMap, metadata: {name: ghost}}
        """,
    )

    assert "step 1 (delete, cluster source) failed" in text
    assert 'error: source: Error from server (NotFound): "ghost"' in text


# --- objects ---------------------------------------------------------------------------------


def config(name: str) -> dict[str, str]:
    return {"name": name, "namespace": NAMESPACE}


def pool() -> dict[str, object]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": config("pool-a"),
        "spec": {"namePrefix": "p", "pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]},
    }


def claim(name: str, bound_to: str) -> dict[str, object]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "metadata": {**config(name), "finalizers": ["ipclaim.ipam.metal3.io"]},
        "spec": {"pool": {"name": "pool-a"}},
        "status": {"address": {"name": bound_to}},
    }


def address(name: str, ip: str, claim_name: str) -> dict[str, object]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPAddress",
        "metadata": {**config(name), "finalizers": ["ipaddress.ipam.metal3.io"]},
        "spec": {"address": ip, "pool": {"name": "pool-a"}, "claim": {"name": claim_name}},
    }


# --- controllers: flags, readiness, logs ------------------------------------------------------


def test_controller_flags_reach_the_instance_they_name(tmp_path: Path) -> None:
    _, env = run_yaml(
        tmp_path,
        """
        description: two instances without leader election, one with a short rebind grace
        steps:
          - controller: {action: start, args: [--no-leader-election]}
          - controller: {action: start, instance: second, args: [--no-leader-election, "--rebind-grace={{ suffix }}"]}
          - controller: {action: restart, instance: second}
        """,
    )

    assert env.args == {
        ("source", "main"): ["--no-leader-election"],
        ("source", "second"): ["--no-leader-election", "--rebind-grace=abc123"],
    }
    assert env.actions[-1] == "controller restart second on source"


def test_a_ready_step_polls_until_the_controller_answers(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.probes[("target", "main")] = [
        Probe(ready=False, detail="/readyz: 503 not ready (waiting for the lease)"),
        Probe(ready=False, detail="/readyz: 503 not ready (waiting for the lease)"),
        Probe(ready=True, detail="/readyz: 200"),
    ]

    run_yaml(
        tmp_path,
        """
        description: start, then wait until ready
        steps:
          - {cluster: target, controller: start}
          - {cluster: target, controller: {action: ready, timeout: 5}}
        """,
        env,
    )

    assert env.probes[("target", "main")] == [Probe(ready=True, detail="/readyz: 200")]


def test_a_ready_step_fails_at_once_with_the_log_when_the_controller_exits(
    tmp_path: Path,
) -> None:
    env = FakeEnvironment()
    env.log_dir = tmp_path / "logs"
    env.probes[("source", "main")] = [
        Probe(ready=False, exit_code=2, detail="it exited with code 2")
    ]

    text = failure_of(
        tmp_path,
        """
        description: the controller refuses its flags
        steps:
          - controller: {action: start, args: [--resync-period=never]}
          - controller: {action: ready, timeout: 600}
        """,
        env,
    )

    assert "step 2 (controller, cluster source) failed" in text
    assert "error: controller main@source is not running: it exited with code 2" in text
    assert "controller main@source, last 50 lines:\n    fake log of main: running=True" in text
    assert f"whole controller logs:\n  main@source: {tmp_path / 'logs' / 'source-main.log'}" in text


def test_a_controller_that_never_gets_ready_fails_after_the_timeout(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.probes[("source", "main")] = [Probe(ready=False, detail="/readyz: 503 waiting")]

    text = failure_of(
        tmp_path,
        """
        description: a standby is never ready
        steps:
          - controller: start
          - controller: {action: ready, timeout: 0.05}
        """,
        env,
    )

    assert "what: still not true after 0.05 s: controller main@source is not ready" in text
    assert "/readyz: 503 waiting" in text


# --- moves: timeouts, namespaces, backups ------------------------------------------------------


def test_move_timeouts_come_from_the_step_or_the_scenario(tmp_path: Path) -> None:
    _, env = run_yaml(
        tmp_path,
        """
        description: a long move and a short one
        moveTimeout: 900
        steps:
          - move: {}
          - move: {from: target, to: source, timeout: 45}
        """,
    )

    assert env.actions == [
        "move t-ns from source to target within 900",
        "move t-ns from target to source within 45",
    ]


def test_a_move_clusterctl_refuses_passes_when_refused_names_its_words(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.refuse_moves = "cannot start operation while the following Clusters are paused: t-ns/wl"
    _, env = run_yaml(
        tmp_path,
        """
        description: a paused Cluster cannot be moved, and nothing moves
        steps:
          - apply: {apiVersion: v1, kind: ConfigMap, metadata: {name: stays}}
          - move: {refused: "Clusters are paused: {{ namespace }}/wl$"}
          - cluster: target
            expect: {count: {apiVersion: v1, kind: ConfigMap, equals: 0}}
          - expect: {count: {apiVersion: v1, kind: ConfigMap, equals: 1}}
        """,
        env,
    )

    assert env.actions == ["move t-ns from source to target within 300"]


def test_a_move_to_be_refused_that_succeeds_fails_the_step(tmp_path: Path) -> None:
    text = failure_of(
        tmp_path,
        """
        description: the move was to be refused
        steps:
          - move: {refused: Clusters are paused}
        """,
    )

    assert (
        "clusterctl move of t-ns was to be refused (/Clusters are paused/), and it succeeded"
        in text
    )


def test_a_move_refused_for_another_reason_fails_the_step(tmp_path: Path) -> None:
    env = FakeEnvironment()
    env.refuse_moves = "error creating IPAddress: admission webhook denied the request"
    text = failure_of(
        tmp_path,
        """
        description: refused, but not for the reason the scenario names
        steps:
          - move: {refused: Clusters are paused}
        """,
        env,
    )

    assert "clusterctl move of t-ns failed, but not with /Clusters are paused/" in text
    assert "admission webhook denied the request" in text


def test_a_second_namespace_moves_with_the_first_or_on_its_own(tmp_path: Path) -> None:
    env = FakeEnvironment()
    run = run_scenario(
        loader_load(
            tmp_path,
            """
            description: two namespaces, moved together and then one back
            namespaces: 2
            steps:
              - apply:
                  - {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
                  - {apiVersion: v1, kind: ConfigMap, metadata: {name: two, namespace: "{{ namespace2 }}"}}
              - move: {namespaces: ["{{ namespace }}", "{{ namespace2 }}"]}
              - move: {from: target, to: source, namespaces: ["{{ namespace2 }}"]}
              - cluster: target
                expect:
                  count:
                    - {apiVersion: v1, kind: ConfigMap, equals: 1}
                    - {apiVersion: v1, kind: ConfigMap, namespace: "{{ namespace2 }}", equals: 0}
              - expect: {count: {apiVersion: v1, kind: ConfigMap, namespace: "{{ namespace2 }}", equals: 1}}
            invariants: {settle: 0.2}
            """,
        ),
        env,
        namespace=NAMESPACE,
        more_namespaces=["t-ns2"],
        suffix="abc123",
        repo_root=tmp_path,
        interval=0.01,
    )

    assert run.namespaces == {"namespace": NAMESPACE, "namespace2": "t-ns2"}
    assert env.actions == [
        "move t-ns from source to target within 300",
        "move t-ns2 from source to target within 300",
        "move t-ns2 from target to source within 300",
    ]


def test_a_snapshot_and_the_invariants_cover_every_namespace(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put(pool())
    source.put(claim("m1", "p-10-0-0-10"))
    source.put(address("p-10-0-0-10", "10.0.0.10", "m1"))
    for obj in (pool(), claim("m1", "p-10-0-0-10"), address("p-10-0-0-10", "10.0.0.10", "m1")):
        obj["metadata"] = {**obj["metadata"], "namespace": "t-ns2"}  # type: ignore[dict-item]
        source.put(obj)
    source.put(
        {
            **address("p-dup", "10.0.0.10", "m1"),
            "metadata": {
                "name": "p-dup",
                "namespace": "t-ns2",
                "finalizers": ["ipaddress.ipam.metal3.io"],
            },
        }
    )

    with pytest.raises(ScenarioFailed) as caught:
        run_scenario(
            loader_load(
                tmp_path,
                """
                description: snapshot both, then find the duplicate in the second
                namespaces: 2
                steps:
                  - snapshot: both
                invariants: {settle: 0.1}
                """,
            ),
            env,
            namespace=NAMESPACE,
            more_namespaces=["t-ns2"],
            suffix="s",
            repo_root=tmp_path,
            interval=0.01,
        )

    text = str(caught.value)
    assert (
        "on source, namespace2:\n    no-duplicate-addresses:\n      - 10.0.0.10 is held 2 times"
        in text
    )
    assert "on source:\n" not in text


def test_a_snapshot_keys_the_second_namespace_by_its_template_name(tmp_path: Path) -> None:
    env = FakeEnvironment()
    for namespace in (NAMESPACE, "t-ns2"):
        for obj in (claim("m1", "p-10-0-0-10"), address("p-10-0-0-10", "10.0.0.10", "m1")):
            obj["metadata"] = {**obj["metadata"], "namespace": namespace}  # type: ignore[dict-item]
            env.clients["source"].put(obj)

    run = run_scenario(
        loader_load(
            tmp_path,
            "description: x\nnamespaces: 2\nsteps:\n  - snapshot: s\ninvariants: {skip: [{name: addresses-inside-pools, reason: no pool}]}\n",
        ),
        env,
        namespace=NAMESPACE,
        more_namespaces=["t-ns2"],
        suffix="s",
        repo_root=tmp_path,
        interval=0.01,
    )

    assert run.snapshots["s"]["claims"] == {
        "IPClaim/m1": "10.0.0.10",
        "namespace2/IPClaim/m1": "10.0.0.10",
    }


def test_a_backup_restored_into_the_target_gives_the_same_allocations(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    for obj in (pool(), claim("m1", "p-10-0-0-10"), address("p-10-0-0-10", "10.0.0.10", "m1")):
        source.put(obj)

    run_yaml(
        tmp_path,
        """
        description: back up the source, restore into the target
        steps:
          - snapshot: before
          - move: {toDirectory: nightly}
          - name: the source keeps everything
            expect: {snapshot: before}
          - move: {fromDirectory: nightly, to: target, timeout: 30}
          - name: the status a controller rebuilds after the restore (none runs here)
            cluster: target
            patch:
              object: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, metadata: {name: m1}}
              subresource: status
              merge: {status: {address: {name: p-10-0-0-10}}}
          - {cluster: target, expect: {snapshot: before}}
        """,
        env,
    )

    assert env.actions == [
        "backup t-ns of source to nightly within 300",
        "restore nightly to target within 30",
    ]


# --- conditions: events that must not be there, not-equal, count against count ----------------


def test_no_event_with_a_reason_passes_when_none_and_fails_when_one_is_there(
    tmp_path: Path,
) -> None:
    env = FakeEnvironment()
    env.clients["source"].put(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": config("ev1"),
            "involvedObject": {"kind": "IPClaim", "name": "claim-1"},
            "type": "Normal",
            "reason": "Allocated",
            "message": "10.0.0.10",
        }
    )
    scenario = """
        description: no extra address was released for the claim
        steps:
          - expect:
              events:
                - involvedObject: {kind: IPClaim, name: claim-1}
                  reason: %s
                  absent: true
        """

    run_yaml(tmp_path, scenario % "ExtraAddressReleased", env)
    text = failure_of(tmp_path, scenario % "Alloc.*", env)

    assert "what: an Event about IPClaim claim-1 matches, and none may" in text
    assert "+- message: 10.0.0.10" in text


def test_not_equal_compares_with_a_captured_value_of_the_same_type(tmp_path: Path) -> None:
    env = FakeEnvironment()
    client = env.clients["source"]
    client.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("a"), "data": {}})
    client.objects[("v1", "ConfigMap", NAMESPACE, "a")]["spec"] = {"used": 4, "name": "x"}
    scenario = """
        description: capture a number, change it, and compare
        steps:
          - capture:
              used: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}, path: .spec.used}
              old_uid: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}, path: .metadata.uid}
          - patch:
              object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
              merge: {spec: {used: %s}}
          - expect:
              jsonpath:
                - {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}, path: .spec.used, notEquals: "{{ used }}"}
                - {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}, path: .metadata.uid, equals: "{{ old_uid }}"}
        """

    run_yaml(tmp_path, scenario % "5", env)
    client.objects[("v1", "ConfigMap", NAMESPACE, "a")]["spec"] = {"used": 4}
    text = failure_of(tmp_path, scenario % "4", env)

    assert "what: ConfigMap t-ns/a .spec.used: expected anything but 4, found it" in text


def test_counts_compare_with_other_counts_here_or_on_the_other_cluster(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source = env.clients["source"]
    source.put(pool())
    for n in (10, 11):
        source.put(claim(f"m{n}", f"p-10-0-0-{n}"))
        source.put(address(f"p-10-0-0-{n}", f"10.0.0.{n}", f"m{n}"))
    source.put(claim("waiting", "nothing-yet") | {"status": {}})
    env.clients["target"].put(pool())
    addresses = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPAddress"
    claims = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim"

    run_yaml(
        tmp_path,
        f"""
        description: as many addresses as bound claims, no more than claims
        steps:
          - expect:
              count:
                - {addresses}, equals: {{count: {claims}, where: {{status: {{address: {{}}}}}}}}}}}}
                - {addresses}, atMost: {{count: {claims}}}}}}}
                - {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, equals: {{count: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, cluster: target}}}}}}
        """,
        env,
    )
    text = failure_of(
        tmp_path,
        f"""
        description: every claim has an address (it does not)
        steps:
          - expect: {{count: {addresses}, equals: {{count: {claims}}}}}}}}}
        """,
        env,
    )

    assert (
        "what: IPAddress.ipam.metal3.io: 2 found, expected exactly 3 "
        "(the count of IPClaim.ipam.metal3.io)" in text
    )


def loader_load(tmp_path: Path, text: str) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return loader.load(path, repo_root=tmp_path)


# --- refused writes ----------------------------------------------------------------------------

INVALID_POOL = (
    'The IPPool "bad" is invalid: \n'
    "* spec.pools[0].end: Invalid value: end 10.0.0.1 is before start 10.0.0.9\n"
    "* spec.pools[1]: Invalid value: a pool entry needs at least one of start, end or subnet\n"
)
REFUSED_POOL = """
        description: a pool the API server refuses
        steps:
          - apply:
              apiVersion: ipam.metal3.io/v1alpha1
              kind: IPPool
              metadata: {name: bad}
              spec: {namePrefix: bad, pools: [{start: 10.0.0.9, end: 10.0.0.1}, {}]}
            refused:
              - "spec.pools[0].end: Invalid value: end 10.0.0.1 is before start 10.0.0.9"
              - "spec.pools[1]: Invalid value: {WORDS}"
        """


def ref(kind: str, name: str) -> ObjectRef:
    return ObjectRef(Kind("ipam.metal3.io/v1alpha1", kind), name, NAMESPACE)


def refusing_env(name: str, stderr: str) -> FakeEnvironment:
    env = FakeEnvironment()
    env.client("source").refusals[name] = stderr
    return env


def test_a_refused_apply_passes_when_the_api_server_says_exactly_that(tmp_path: Path) -> None:
    text = REFUSED_POOL.replace(
        "{WORDS}", "a pool entry needs at least one of start, end or subnet"
    )

    _, env = run_yaml(tmp_path, text, refusing_env("bad", INVALID_POOL))

    assert env.client("source").get(ref("IPPool", "bad")) is None


def test_a_refusal_in_other_words_fails_with_both_lists(tmp_path: Path) -> None:
    text = REFUSED_POOL.replace("{WORDS}", "an entry needs a start")

    failure = failure_of(tmp_path, text, refusing_env("bad", INVALID_POOL))

    assert (
        "the apply of IPPool.ipam.metal3.io t-ns/bad was refused, but not in the expected"
        in failure
    )
    assert "-- 'spec.pools[1]: Invalid value: an entry needs a start'" in failure
    assert "+- 'spec.pools[1]: Invalid value: a pool entry needs at least one of start" in failure


def test_a_write_that_should_be_refused_and_is_accepted_fails(tmp_path: Path) -> None:
    text = REFUSED_POOL.replace(
        "{WORDS}", "a pool entry needs at least one of start, end or subnet"
    )

    failure = failure_of(tmp_path, text)

    assert (
        "the apply of IPPool.ipam.metal3.io t-ns/bad was accepted; it should have been refused"
        in (failure)
    )


def test_a_refused_patch_compares_a_refusal_that_is_not_invalid_as_one_message(
    tmp_path: Path,
) -> None:
    env = refusing_env("cfg", 'Error from server (Forbidden): admission webhook "x" denied it\n')
    env.client("source").put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": config("cfg")})

    run_yaml(
        tmp_path,
        """
        description: a patch refused by a webhook
        steps:
          - patch: {object: {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}}, merge: {data: {a: b}}}
            refused: ['admission webhook "x" denied it']
        """,
        env,
    )

    assert "data" not in env.client("source").objects[("v1", "ConfigMap", NAMESPACE, "cfg")]


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            'The IPPool "p" is invalid: spec.pools[0].end: Invalid value: end 1 is before start 2\n',
            ["spec.pools[0].end: Invalid value: end 1 is before start 2"],
        ),
        (
            INVALID_POOL,
            [
                "spec.pools[0].end: Invalid value: end 10.0.0.1 is before start 10.0.0.9",
                "spec.pools[1]: Invalid value: a pool entry needs at least one of start, end or subnet",
            ],
        ),
        ("Error from server (Forbidden): no, because\n", ["no, because"]),
        ("error: something else\n", ["error: something else"]),
    ],
)
def test_a_refusal_is_read_as_kubectl_prints_it(stderr: str, expected: list[str]) -> None:
    assert kube.refusal(stderr) == expected


def test_peer_steps_start_and_stop_peers_serving_the_first_namespace(tmp_path: Path) -> None:
    run, env = run_yaml(
        tmp_path,
        """
        description: peers start where the step says, with their flags
        steps:
          - peer: capm3
          - {cluster: target, peer: {name: incluster, args: ["--watch-filter={{ suffix }}"]}}
          - {cluster: target, peer: {name: incluster, action: stop}}
        """,
    )

    assert env.actions == [
        "peer start capm3 on source serving t-ns",
        "peer start incluster on target serving t-ns --watch-filter=abc123",
        "peer stop incluster on target serving t-ns",
    ]
    assert run.touched == ["source", "target"]


def test_a_scenario_knows_the_peers_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "peers.yaml"
    path.write_text(
        textwrap.dedent(
            """
            description: two peers, one named twice
            steps:
              - {cluster: target, peer: {name: incluster}}
              - peer: capm3
              - {cluster: target, peer: capm3}
            """
        )
    )

    assert loader.load(path, repo_root=tmp_path).peers == ("incluster", "capm3")


SECRET = """
description: a Secret's data is compared as text
steps:
  - apply:
      apiVersion: v1
      kind: Secret
      metadata: {name: nd}
      data: {networkData: bmV0d29ya3M6CiAgaXBfYWRkcmVzczogMTAuNjEuMC4xMAo=}
  - expect:
      jsonpath:
        - object: {apiVersion: v1, kind: Secret, metadata: {name: nd}}
          path: .data.networkData
          decode: base64
          %s
"""


def test_decode_base64_compares_a_secrets_data_as_text(tmp_path: Path) -> None:
    run_yaml(tmp_path, SECRET % "matches: 'ip_address: 10\\.61\\.0\\.10\\n'")
    run_yaml(tmp_path, SECRET % 'equals: "networks:\\n  ip_address: 10.61.0.10\\n"')


def test_decode_base64_fails_with_the_decoded_text(tmp_path: Path) -> None:
    shown = failure_of(tmp_path, SECRET % "matches: 'ip_address: 10\\.61\\.0\\.11'")

    assert "'networks:\\n  ip_address: 10.61.0.10\\n' does not match" in shown


def test_decode_base64_of_a_value_that_is_not_base64_fails_saying_so(tmp_path: Path) -> None:
    text = SECRET.replace("bmV0d29ya3M6CiAgaXBfYWRkcmVzczogMTAuNjEuMC4xMAo=", "not*base64")
    shown = failure_of(tmp_path, text % "matches: x")

    assert "'not*base64' is not base64 of UTF-8 text" in shown


def test_counts_add_up_over_both_clusters(tmp_path: Path) -> None:
    env = FakeEnvironment()
    source, target = env.clients["source"], env.clients["target"]
    for client in (source, target):
        client.put(pool())
    source.put(claim("left", "p-10-0-0-10"))
    source.put(address("p-10-0-0-10", "10.0.0.10", "left"))
    source.put(claim("waiting", "nothing-yet") | {"status": {}})
    target.put(claim("moved", "p-10-0-0-11"))
    target.put(address("p-10-0-0-11", "10.0.0.11", "moved"))
    claims = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim"
    addresses = "{apiVersion: ipam.metal3.io/v1alpha1, kind: IPAddress"

    run_yaml(
        tmp_path,
        f"""
        description: two claims on one side, one on the other, three in all
        steps:
          - expect:
              count:
                - {claims}, clusters: [source, target], equals: 3}}
                - {claims}, equals: 2}}
                - {claims}, clusters: [target], atMost: {{count: {addresses}, clusters: [source, target]}}}}}}
        """,
        env,
    )
    text = failure_of(
        tmp_path,
        f"""
        description: an address for every claim of both clusters (the waiting one has none)
        steps:
          - expect:
              count: {addresses}, clusters: [source, target], equals: {{count: {claims}, clusters: [source, target]}}}}}}
        """,
        env,
    )

    assert (
        "what: IPAddress.ipam.metal3.io on source + target: 2 found, expected exactly 3 "
        "(the count of IPClaim.ipam.metal3.io on source + target)" in text
    )
