"""``clusterctl move`` with a controller on each side: same claim, same address; nothing released."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.move import move
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import (
    CAPI_CLAIMS,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    wait_for,
    workload_cluster,
)

pytestmark = pytest.mark.cluster


def pool_and_claims(
    namespace: str, cluster: dict[str, Any], names: list[str]
) -> list[dict[str, Any]]:
    owner = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "name": "wl",
        "uid": cluster["metadata"]["uid"],
    }
    labels = {"cluster.x-k8s.io/cluster-name": "wl"}
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "prov", "namespace": namespace},
            "spec": {
                "clusterName": "wl",
                "namePrefix": "prov",
                "pools": [{"start": "10.70.0.10", "end": "10.70.0.30"}],
                "prefix": 24,
                "gateway": "10.70.0.1",
            },
        }
    ]
    for name in names:
        items.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"pool": {"name": "prov"}},
            }
        )
        items.append(
            {
                "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
                "kind": "IPAddressClaim",
                "metadata": {
                    "name": f"{name}-capi",
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {
                    "clusterName": "wl",
                    "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "prov"},
                },
            }
        )
    return items


def bindings(cluster: Cluster, namespace: str) -> dict[str, str] | None:
    result: dict[str, str] = {}
    for resource, field in ((METAL3_CLAIMS, "address"), (CAPI_CLAIMS, "addressRef")):
        for claim in (cluster.get_json(resource, "-n", namespace) or {"items": []})["items"]:
            name = (claim.get("status") or {}).get(field, {}).get("name")
            if not name:
                return None
            result[f"{claim['kind']}/{claim['metadata']['name']}"] = name
    return result or None


def lines_about(namespace: str, log: str) -> str:
    return "\n".join(line for line in log.splitlines() if f"{namespace}/" in line)


def test_claims_keep_their_addresses_across_a_move_and_the_source_releases_nothing_early(
    source_cluster: Cluster, target_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    source = controllers.start("source")
    target = controllers.start("target")
    apply_all(source_cluster, workload_cluster(namespace, "wl"))
    cluster = source_cluster.get_json("clusters.cluster.x-k8s.io", "wl", "-n", namespace)
    apply_all(source_cluster, pool_and_claims(namespace, cluster, ["a", "b", "c"]))
    before = wait_for(
        "six claims bound in the source",
        lambda: (b := bindings(source_cluster, namespace)) and len(b) == 6 and b,
    )

    move(source_cluster, target_cluster, namespace)

    after = wait_for(
        "six claims bound in the target",
        lambda: (b := bindings(target_cluster, namespace)) and len(b) == 6 and b,
        timeout=90,
    )
    assert after == before
    status = wait_for(
        "the target pool's status",
        lambda: (
            (
                s := (target_cluster.get_json(POOLS, "prov", "-n", namespace).get("status") or {})
            ).get("used")
            == 6
            and s
        ),
    )
    assert len(status["indexes"]) == 6
    # The controllers watch every namespace; only this test's lines speak of this move.
    assert "released" not in lines_about(namespace, source.log_tail(2000))
    assert "allocated" not in lines_about(namespace, target.log_tail(2000))

    apply_all(
        target_cluster,
        [
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": "newcomer", "namespace": namespace},
                "spec": {"pool": {"name": "prov"}},
            }
        ],
    )
    newcomer = wait_for(
        "a new claim bound in the target",
        lambda: (
            target_cluster.get_json(METAL3_CLAIMS, "newcomer", "-n", namespace).get("status") or {}
        ).get("address"),
    )
    assert newcomer["name"] not in before.values()
