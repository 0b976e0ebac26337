"""Cluster API's IPAM provider contract, checked beside Cluster API's own manager.

The contract (cluster-api docs, "IPAM Provider Specification") says what a provider does
with an IPAddressClaim of its pool: leave it alone while the Cluster it names is missing
or paused (by ``spec.paused`` or the ``cluster.x-k8s.io/paused`` annotation), and give
the IPAddress owner references to the claim (``controller: true``) and to the pool
(``controller: false``), both with ``blockOwnerDeletion: true``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import (
    CAPI_ADDRESSES,
    CAPI_CLAIMS,
    POOLS,
    apply_all,
    wait_for,
    workload_cluster,
)

pytestmark = pytest.mark.cluster


def pool(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "contract", "namespace": namespace},
        "spec": {
            "namePrefix": "contract",
            "pools": [{"start": "10.40.0.1", "end": "10.40.0.9"}],
            "prefix": 24,
        },
    }


def claim(namespace: str, name: str, cluster_name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "contract"}
    }
    if cluster_name:
        spec["clusterName"] = cluster_name
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def address_of(cluster: Cluster, namespace: str, name: str) -> str | None:
    found = cluster.get_json(CAPI_CLAIMS, name, "-n", namespace) or {}
    ref: str | None = ((found.get("status") or {}).get("addressRef") or {}).get("name")
    return ref


def held_while_another_is_served(
    cluster: Cluster, namespace: str, held: dict[str, Any]
) -> str | None:
    """Apply ``held``, then a claim nothing holds; once that one is bound, ``held``'s address."""
    apply_all(cluster, [held])
    apply_all(cluster, [claim(namespace, "control")])
    wait_for("the control claim bound", lambda: address_of(cluster, namespace, "control"))
    return address_of(cluster, namespace, held["metadata"]["name"])


def test_a_claim_whose_cluster_does_not_exist_is_left_alone(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    apply_all(source_cluster, [pool(namespace)])
    controllers.start()

    found = held_while_another_is_served(
        source_cluster, namespace, claim(namespace, "orphan", cluster_name="ghost")
    )

    assert found is None


def test_a_claim_of_a_cluster_paused_by_annotation_is_left_alone(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    apply_all(source_cluster, [pool(namespace), *workload_cluster(namespace, "wl")])
    source_cluster.kubectl(
        "annotate", "clusters.cluster.x-k8s.io", "wl", "-n", namespace, "cluster.x-k8s.io/paused="
    )
    controllers.start()

    found = held_while_another_is_served(
        source_cluster, namespace, claim(namespace, "paused", cluster_name="wl")
    )

    assert found is None


def test_a_claim_of_a_cluster_paused_by_spec_is_left_alone(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    # The same check as above with spec.paused, which the controller honours: it shows the
    # check can pass, so the annotation test above fails for the annotation alone.
    apply_all(source_cluster, [pool(namespace), *workload_cluster(namespace, "wl")])
    source_cluster.kubectl(
        "patch",
        "clusters.cluster.x-k8s.io",
        "wl",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"paused": True}}),
    )
    controllers.start()

    found = held_while_another_is_served(
        source_cluster, namespace, claim(namespace, "paused", cluster_name="wl")
    )

    assert found is None


def test_the_address_is_controlled_by_its_claim_and_owned_by_its_pool(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    apply_all(source_cluster, [pool(namespace), claim(namespace, "owned")])
    controllers.start()
    name = wait_for("the claim bound", lambda: address_of(source_cluster, namespace, "owned"))

    created = source_cluster.get_json(CAPI_ADDRESSES, name, "-n", namespace)
    owners = {o["kind"]: o for o in created["metadata"]["ownerReferences"]}
    claim_uid = source_cluster.get_json(CAPI_CLAIMS, "owned", "-n", namespace)["metadata"]["uid"]
    pool_uid = source_cluster.get_json(POOLS, "contract", "-n", namespace)["metadata"]["uid"]

    assert owners["IPAddressClaim"]["uid"] == claim_uid
    assert owners["IPPool"]["uid"] == pool_uid
    assert (
        owners["IPAddressClaim"].get("controller"),
        owners["IPAddressClaim"].get("blockOwnerDeletion"),
    ) == (True, True)
    assert (owners["IPPool"].get("controller"), owners["IPPool"].get("blockOwnerDeletion")) == (
        False,
        True,
    )
