"""Tests do not disturb each other: a test's controller serves only its own namespaces.

A previous test's namespace may still be terminating when the next test starts (its
teardown does not wait). That used to keep a shared ``--all-namespaces`` controller busy
releasing the old claims; a controller scoped with ``--namespace`` never sees them, so no
test has to wait for the previous one's namespace to be gone. And the teardown itself
leaves nothing stuck: it removes the finalizers no controller will ever remove now.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.controller import SYSTEM_NAMESPACE
from e2e.pytest_plugin import Controllers, Namespaces
from tests.integration.helpers import METAL3_CLAIMS, POOLS, apply_all, wait_for

pytestmark = pytest.mark.cluster


def pool_and_claims(namespace: str, count: int, *, held: bool) -> list[dict[str, Any]]:
    """A pool and claims; ``held`` claims carry our finalizer, as if a controller served them."""
    meta = {"finalizers": ["ipclaim.ipam.metal3.io"]} if held else {}
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "iso", "namespace": namespace, **meta},
            "spec": {"namePrefix": "iso", "pools": [{"subnet": "10.74.0.0/24"}], "prefix": 24},
        }
    ]
    for n in range(count):
        items.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": f"c-{n}", "namespace": namespace, **meta},
                "spec": {"pool": {"name": "iso"}},
            }
        )
    return items


def items(cluster: Cluster, resource: str, namespace: str) -> list[dict[str, Any]]:
    found = cluster.get_json(resource, "-n", namespace)
    return list((found or {}).get("items", []))


def namespace_gone(clusters: dict[str, Cluster], name: str) -> bool:
    return all(
        c.kubectl("get", "namespace", name, check=False).returncode != 0 for c in clusters.values()
    )


def test_a_tests_controller_never_touches_another_tests_terminating_namespace(
    clusters: dict[str, Cluster],
    source_cluster: Cluster,
    namespace: str,
    controllers: Controllers,
) -> None:
    previous = Namespaces(clusters, "a-previous-test")
    old = previous.add()
    try:
        apply_all(source_cluster, pool_and_claims(old, 20, held=True))
        source_cluster.kubectl("delete", "namespace", old, "--wait=false")
        # The namespace controller marks the held claims deleted in its own time.
        wait_for(
            "the previous test's claims marked deleted by the namespace controller",
            lambda: all(
                c["metadata"].get("deletionTimestamp")
                for c in items(source_cluster, METAL3_CLAIMS, old)
            ),
            120,
        )
        apply_all(source_cluster, pool_and_claims(namespace, 3, held=False))

        runner = controllers.start()
        wait_for(
            "this test's claims bound",
            lambda: all(
                (c.get("status") or {}).get("address")
                for c in items(source_cluster, METAL3_CLAIMS, namespace)
            ),
        )

        leftovers = items(source_cluster, METAL3_CLAIMS, old)
        assert len(leftovers) == 20
        assert all(c["metadata"].get("deletionTimestamp") for c in leftovers)
        assert all(c["metadata"]["finalizers"] == ["ipclaim.ipam.metal3.io"] for c in leftovers)
        assert not [c for c in leftovers if c.get("status")]
        assert old not in runner.log_tail(100_000)
        assert f"--namespace={namespace}" in runner.argv
        lease = source_cluster.get_json("lease", f"ipam-{namespace}", "-n", SYSTEM_NAMESPACE)
        assert lease is not None
        assert lease["spec"]["holderIdentity"]
    finally:
        previous.delete_all()

    wait_for("the previous namespace to be gone", lambda: namespace_gone(clusters, old), 120)


def test_a_controller_serving_named_namespaces_never_asks_for_the_clusters_namespaces(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    """The shipped RBAC grants no list on namespaces; a scoped controller needs none."""
    runner = controllers.start()
    apply_all(source_cluster, pool_and_claims(namespace, 1, held=False))

    wait_for(
        "the claim bound",
        lambda: all(
            (c.get("status") or {}).get("address")
            for c in items(source_cluster, METAL3_CLAIMS, namespace)
        ),
    )

    log = runner.log_tail(100_000)
    assert '"namespaces" in API group "" at the cluster scope' not in log
    assert "Not enough permissions to list namespaces" not in log


def test_the_teardown_frees_held_objects_so_the_namespace_goes(
    clusters: dict[str, Cluster], source_cluster: Cluster
) -> None:
    mine = Namespaces(clusters, "held-objects")
    name = mine.add()
    apply_all(source_cluster, pool_and_claims(name, 30, held=True))
    held = json.loads(
        source_cluster.kubectl("get", f"{POOLS},{METAL3_CLAIMS}", "-n", name, "-o", "json").stdout
    )["items"]
    assert len([o for o in held if o["metadata"].get("finalizers")]) == 31

    mine.delete_all()

    wait_for("the namespace to be gone", lambda: namespace_gone(clusters, name), 120)
