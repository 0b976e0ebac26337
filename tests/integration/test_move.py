"""The real clusterctl moves Cluster API objects between two harness clusters."""

from __future__ import annotations

import json

import pytest

from e2e.cluster import Cluster
from e2e.move import move
from tests.integration.helpers import apply_all, workload_cluster

pytestmark = pytest.mark.cluster


def _owned_secret(namespace: str, name: str, owner: dict[str, object]) -> dict[str, object]:
    meta = owner["metadata"]
    assert isinstance(meta, dict)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"cluster.x-k8s.io/cluster-name": meta["name"]},
            "ownerReferences": [
                {
                    "apiVersion": "cluster.x-k8s.io/v1beta2",
                    "kind": "Cluster",
                    "name": meta["name"],
                    "uid": meta["uid"],
                }
            ],
        },
        "stringData": {"value": name},
    }


def test_cluster_with_owned_objects_moves_to_the_target_and_leaves_the_source(
    source_cluster: Cluster, target_cluster: Cluster, namespace: str
) -> None:
    apply_all(source_cluster, workload_cluster(namespace, "workload"))
    owner = source_cluster.get_json("clusters.cluster.x-k8s.io", "workload", "-n", namespace)
    for i in range(3):
        source_cluster.apply(json.dumps(_owned_secret(namespace, f"workload-data-{i}", owner)))

    move(source_cluster, target_cluster, namespace)

    moved = target_cluster.get_json("clusters.cluster.x-k8s.io", "workload", "-n", namespace)
    assert moved is not None
    assert source_cluster.get_json("clusters.cluster.x-k8s.io", "workload", "-n", namespace) is None
    for i in range(3):
        secret = target_cluster.get_json("secret", f"workload-data-{i}", "-n", namespace)
        assert secret is not None, f"workload-data-{i} did not move"
        assert secret["metadata"]["ownerReferences"][0]["uid"] == moved["metadata"]["uid"]
        assert source_cluster.get_json("secret", f"workload-data-{i}", "-n", namespace) is None
