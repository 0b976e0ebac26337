"""The runner's kubectl path on the session's real clusters: every condition reads real objects.

These need the harness control planes (marker ``cluster``), like the scenarios do; they
reuse the session's clusters, so next to the scenarios they cost seconds.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from e2e.scenario import loader
from e2e.scenario.environment import HarnessEnvironment
from e2e.scenario.report import ScenarioFailed
from e2e.scenario.runner import run_scenario

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_real(tmp_path: Path, clusters: Any, namespace: str, controllers: Any) -> Any:
    def run(text: str) -> None:
        path = tmp_path / "real.yaml"
        path.write_text(textwrap.dedent(text))
        scenario = loader.load(path, repo_root=REPO)
        env = HarnessEnvironment(clusters, controllers)
        run_scenario(
            scenario, env, namespace=namespace, suffix="s1", repo_root=REPO, shown_path="real.yaml"
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
