"""The stand-in providers say what Cluster API's contract and clusterctl move read, nothing more.

What really happens to these objects (Cluster API provisions the Cluster, clusterctl moves
the stand-ins with it) is proved on real clusters in tests/integration/test_cluster_api.py;
these tests pin the facts those rely on.
"""

from __future__ import annotations

from e2e import providers


def test_the_stand_ins_are_applied_before_the_cluster_that_names_them() -> None:
    objects = providers.workload_cluster("wl")

    assert [o["kind"] for o in objects] == ["HarnessCluster", "HarnessControlPlane", "Cluster"]
    spec = objects[-1]["spec"]
    assert spec["infrastructureRef"] == {
        "apiGroup": providers.GROUP,
        "kind": "HarnessCluster",
        "name": "wl",
    }
    assert spec["controlPlaneRef"]["kind"] == "HarnessControlPlane"
    assert "paused" not in spec


def test_each_crd_names_the_version_that_implements_contract_v1beta2_and_is_moved() -> None:
    for crd in providers.crds():
        labels = crd["metadata"]["labels"]
        versions = [v["name"] for v in crd["spec"]["versions"]]

        assert labels["cluster.x-k8s.io/v1beta2"] in versions
        assert "clusterctl.cluster.x-k8s.io" in labels
        assert labels["cluster.x-k8s.io/provider"].endswith("-harness")
        # Cluster API finds the CRD by the plural of the kind it reads in a reference.
        assert (
            crd["metadata"]["name"] == f"{crd['spec']['names']['kind'].lower()}s.{providers.GROUP}"
        )


def test_the_status_is_part_of_the_object_so_clusterctl_move_carries_it() -> None:
    for crd in providers.crds():
        assert all("subresources" not in version for version in crd["spec"]["versions"])
