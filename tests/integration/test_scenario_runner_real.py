"""The runner's kubectl path on the session's real clusters: every condition reads real objects,
and every step that reaches beyond objects (controllers, moves, backups, background
blocks) does what it says with real processes and the real clusterctl.

These need the harness control planes (marker ``cluster``), like the scenarios do; they
reuse the session's clusters.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from e2e.scenario import loader
from e2e.scenario.environment import HarnessEnvironment
from e2e.scenario.report import ScenarioFailed
from e2e.scenario.run import Run
from e2e.scenario.runner import run_scenario

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_real(tmp_path: Path, clusters: Any, test_namespaces: Any, controllers: Any) -> Any:
    def run(text: str) -> Run:
        path = tmp_path / "real.yaml"
        path.write_text(textwrap.dedent(text))
        scenario = loader.load(path, repo_root=REPO)
        first, *more = test_namespaces.ensure(scenario.namespaces)
        env = HarnessEnvironment(clusters, controllers, tmp_path)
        return run_scenario(
            scenario,
            env,
            namespace=first,
            more_namespaces=more,
            suffix="s1",
            repo_root=REPO,
            shown_path="real.yaml",
        )

    return run


def test_every_condition_reads_real_objects(run_real: Any, namespace: str) -> None:
    run_real(
        f"""
        description: each condition and step on a real API server
        invariants: {{settle: 2}}
        steps:
          - generate:
              count: 30
              chunk: 12
              template:
                apiVersion: v1
                kind: ConfigMap
                metadata: {{name: "cm-{{{{ i }}}}", labels: {{batch: b}}}}
                data: {{i: "{{{{ i }}}}"}}
          - apply:
              apiVersion: v1
              kind: Event
              metadata: {{name: ev-1}}
              involvedObject: {{kind: ConfigMap, name: cm-1, namespace: "{{{{ namespace }}}}"}}
              type: Warning
              reason: SomethingHappened
              message: cm-1 did a thing at 10.0.0.1
          - apply:
              apiVersion: ipam.cluster.x-k8s.io/v1beta2
              kind: IPAddressClaim
              metadata: {{name: claim-1}}
              spec: {{poolRef: {{apiGroup: ipam.metal3.io, kind: IPPool, name: pool-a}}}}
          - patch:
              object: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-2}}}}
              merge: {{data: {{patched: "yes"}}}}
          - patch:
              object: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-3}}}}
              json: [{{op: remove, path: /data/i}}]
          - delete: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-29}}}}
          - wait:
              timeout: 20
              absent: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-29}}}}
              count:
                - {{apiVersion: v1, kind: ConfigMap, labelSelector: batch=b, equals: 29}}
                - {{apiVersion: v1, kind: ConfigMap, where: {{data: {{patched: "yes"}}}}, equals: 1}}
                - {{apiVersion: v1, kind: ConfigMap, fieldSelector: metadata.name=cm-7, equals: 1}}
          - expect:
              objects:
                - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-2}}, data: {{i: "2", patched: "yes"}}}}
                - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-3, namespace: {namespace}}}, data: null}}
              jsonpath:
                - object: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-4}}}}
                  path: .metadata.labels.batch
                  equals: b
                - object: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-4}}}}
                  path: .metadata.uid
                  matches: "^[0-9a-f-]{{36}}$"
                - object: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: cm-4}}}}
                  path: .metadata.annotations
                  exists: false
              events:
                - involvedObject: {{kind: ConfigMap, name: cm-1}}
                  type: Warning
                  reason: Something.*
                  message: 10\\.0\\.0\\.1
          - expect:
              unchanged:
                seconds: 1
                objects: [{{apiVersion: v1, kind: ConfigMap, labelSelector: batch=b}}]
          - snapshot: now
          - expect: {{snapshot: now}}
        """
    )


def test_a_wrong_expectation_on_a_real_cluster_shows_expected_beside_found(
    run_real: Any,
) -> None:
    with pytest.raises(ScenarioFailed) as caught:
        run_real(
            """
            description: the pool says 24, the expectation 16
            steps:
              - apply:
                  apiVersion: ipam.metal3.io/v1alpha1
                  kind: IPPool
                  metadata: {name: pool-a}
                  spec:
                    namePrefix: pool-a
                    pools: [{start: 10.0.0.10, end: 10.0.0.20}]
                    prefix: 24
              - name: wrong prefix
                wait:
                  timeout: 1
                  objects:
                    apiVersion: ipam.metal3.io/v1alpha1
                    kind: IPPool
                    metadata: {name: pool-a}
                    spec: {prefix: 16}
            """
        )

    text = str(caught.value)
    assert 'real.yaml: step 2 "wrong prefix" (wait, cluster source) failed' in text
    assert "IPPool.ipam.metal3.io" in text
    assert "at .spec.prefix expected 16, found 24" in text
    assert "    -  prefix: 16\n    +  prefix: 24\n" in text


def test_a_missing_kind_is_an_error_for_a_step_but_empty_for_a_snapshot(run_real: Any) -> None:
    with pytest.raises(ScenarioFailed) as caught:
        run_real(
            """
            description: a kind no cluster has
            steps:
              - snapshot: empty
              - expect: {snapshot: empty}
              - expect: {count: {apiVersion: example.com/v1, kind: Nothing, equals: 0}}
              - apply: {apiVersion: example.com/v1, kind: Nothing, metadata: {name: x}}
            """
        )

    text = str(caught.value)
    assert "step 4 (apply, cluster source) failed" in text
    assert "error: source: kubectl apply" in text


CLUSTER_AND_POOL = """
          - apply:
              - workloadCluster: wl
              - apiVersion: ipam.metal3.io/v1alpha1
                kind: IPPool
                metadata: {name: prov}
                spec: {clusterName: wl, namePrefix: prov, pools: [{subnet: 10.71.0.0/24}], prefix: 24}
          - generate:
              count: 12
              template:
                apiVersion: ipam.metal3.io/v1alpha1
                kind: IPClaim
                metadata: {name: "m-{{ i }}"}
                spec: {pool: {name: prov}}
"""

SECOND_CLUSTER_AND_POOL = """
          - apply:
              - {workloadCluster: wl2, namespace: "{{ namespace2 }}"}
              - apiVersion: ipam.metal3.io/v1alpha1
                kind: IPPool
                metadata: {name: prov2, namespace: "{{ namespace2 }}"}
                spec: {clusterName: wl2, namePrefix: prov2, pools: [{subnet: 10.75.0.0/24}], prefix: 24}
          - generate:
              count: 4
              template:
                apiVersion: ipam.metal3.io/v1alpha1
                kind: IPClaim
                metadata: {name: "n-{{ i }}", namespace: "{{ namespace2 }}"}
                spec: {pool: {name: prov2}}
"""


def test_a_burst_runs_in_the_background_while_a_move_runs_with_controllers_on_both_sides(
    run_real: Any,
) -> None:
    run = run_real(
        f"""
        description: >-
          The target's controller is already running (as after clusterctl init there); a
          burst of claims in a second namespace keeps the source's controller busy while
          clusterctl moves the first namespace.
        namespaces: 2
        moveTimeout: 240
        steps:
          {CLUSTER_AND_POOL.strip()}
          - apply:
              apiVersion: ipam.metal3.io/v1alpha1
              kind: IPPool
              metadata: {{name: busy, namespace: "{{{{ namespace2 }}}}"}}
              spec: {{namePrefix: busy, pools: [{{subnet: 10.72.0.0/24}}], prefix: 24}}
          - controller: start
          - {{cluster: target, controller: start}}
          - controller: ready
          - {{cluster: target, controller: ready}}
          - wait:
              timeout: 120
              objects: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, metadata: {{name: prov}}, status: {{used: 12}}}}
          - snapshot: before
          - capture:
              pool_uid: {{object: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, metadata: {{name: prov}}}}, path: .metadata.uid}}
          - background:
              id: burst
              steps:
                - generate:
                    count: 40
                    chunk: 10
                    template:
                      apiVersion: ipam.metal3.io/v1alpha1
                      kind: IPClaim
                      metadata: {{name: "b-{{{{ i }}}}", namespace: "{{{{ namespace2 }}}}"}}
                      spec: {{pool: {{name: busy}}}}
          - move: {{}}
          - join: burst
          - name: the burst is served in the source, one address per claim
            wait:
              timeout: 180
              count:
                apiVersion: ipam.metal3.io/v1alpha1
                kind: IPAddress
                namespace: "{{{{ namespace2 }}}}"
                equals: {{count: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, namespace: "{{{{ namespace2 }}}}"}}}}
          - expect:
              count: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, namespace: "{{{{ namespace2 }}}}", equals: 40}}
          - name: the moved claims keep their addresses, the pool is a new object
            cluster: target
            wait:
              timeout: 120
              snapshot: before
              jsonpath:
                object: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, metadata: {{name: prov}}}}
                path: .metadata.uid
                notEquals: "{{{{ pool_uid }}}}"
          - cluster: target
            expect:
              count:
                apiVersion: ipam.metal3.io/v1alpha1
                kind: IPAddress
                equals: {{count: {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim}}}}
              events:
                - involvedObject: {{kind: IPClaim, name: m-0}}
                  reason: ExtraAddressReleased|Released
                  absent: true
        invariants: {{settle: 60}}
        """
    )

    assert run.touched == ["source", "target"]


def test_two_namespaces_move_there_and_back_and_a_backup_restored_keeps_every_allocation(
    run_real: Any, tmp_path: Path
) -> None:
    both = '["{{ namespace }}", "{{ namespace2 }}"]'
    run = run_real(
        f"""
        description: >-
          Back up two namespaces with --to-directory, move both to the target and back
          with a controller on each side, then restore the backup into the empty target.
        namespaces: 2
        steps:
          {CLUSTER_AND_POOL.strip()}
          {SECOND_CLUSTER_AND_POOL.strip()}
          - controller: start
          - {{cluster: target, controller: start}}
          - wait:
              timeout: 120
              objects:
                - {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPPool, metadata: {{name: prov}}, status: {{used: 12}}}}
                - apiVersion: ipam.metal3.io/v1alpha1
                  kind: IPPool
                  metadata: {{name: prov2, namespace: "{{{{ namespace2 }}}}"}}
                  status: {{used: 4}}
          - snapshot: before
          - move: {{toDirectory: nightly, namespaces: {both}}}
          - name: a backup leaves the source as it was
            expect: {{snapshot: before}}
          - move: {{from: source, to: target, namespaces: {both}}}
          - {{cluster: target, wait: {{timeout: 120, snapshot: before}}}}
          - move: {{from: target, to: source, namespaces: {both}}}
          - {{wait: {{timeout: 120, snapshot: before}}}}
          - cluster: target
            wait:
              timeout: 60
              count:
                - {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, equals: 0}}
                - {{apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim, namespace: "{{{{ namespace2 }}}}", equals: 0}}
          - move: {{fromDirectory: nightly, to: target}}
          - {{cluster: target, wait: {{timeout: 120, snapshot: before}}}}
        invariants: {{settle: 60}}
        """
    )

    assert len(run.snapshots["before"]["claims"]) == 16
    assert sum(key.startswith("namespace2/") for key in run.snapshots["before"]["claims"]) == 4
    files = sorted(p.name for p in (tmp_path / "backups" / "nightly").iterdir())
    assert [f for f in files if f.startswith("IPPool_") and f.endswith("_prov.yaml")]
    assert [f for f in files if f.startswith("IPPool_") and f.endswith("_prov2.yaml")]
    assert sum(name.startswith("IPClaim_") for name in files) == 16


def test_a_controller_that_cannot_start_fails_its_ready_step_with_its_whole_log(
    run_real: Any,
) -> None:
    with pytest.raises(ScenarioFailed) as caught:
        run_real(
            """
            description: a flag the controller refuses
            steps:
              - controller: {action: start, args: [--resync-period=never]}
              - controller: {action: ready, timeout: 60}
            """
        )

    text = str(caught.value)
    assert "step 2 (controller, cluster source) failed" in text
    assert "error: controller main@source is not running: it exited with code 2" in text
    assert "--resync-period: invalid float value: 'never'" in text
    path = Path(text.split("whole controller logs:\n  main@source: ", 1)[1].split("\n")[0])
    whole = path.read_text()
    assert whole.startswith("\n--- ")
    assert "start: " in whole.splitlines()[1]
    assert "--resync-period=never" in whole


def test_two_controllers_without_leader_election_both_get_ready_and_share_the_work(
    run_real: Any,
) -> None:
    run_real(
        """
        description: two instances, no leader election, one pool
        steps:
          - apply:
              apiVersion: ipam.metal3.io/v1alpha1
              kind: IPPool
              metadata: {name: twin}
              spec: {namePrefix: twin, pools: [{subnet: 10.73.0.0/24}], prefix: 24}
          - controller: {action: start, args: [--no-leader-election]}
          - controller: {action: start, instance: second, args: [--no-leader-election, --rebind-grace=2]}
          - controller: {action: ready, timeout: 60}
          - controller: {action: ready, instance: second, timeout: 60}
          - generate:
              count: 30
              template:
                apiVersion: ipam.metal3.io/v1alpha1
                kind: IPClaim
                metadata: {name: "t-{{ i }}"}
                spec: {pool: {name: twin}}
          - wait:
              timeout: 120
              count:
                - apiVersion: ipam.metal3.io/v1alpha1
                  kind: IPAddress
                  equals: {count: {apiVersion: ipam.metal3.io/v1alpha1, kind: IPClaim}}
                - {apiVersion: ipam.metal3.io/v1alpha1, kind: IPAddress, equals: 30}
        invariants: {settle: 30}
        """
    )
