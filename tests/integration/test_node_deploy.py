"""`make deploy` on a real node: the controller runs as a Pod of config/, as users run it.

One control plane with a kubelet + containerd node for the session (``node_cluster``), the
image built from the Dockerfile's definition without Docker, and the README's commands
(``make deploy``, ``make deploy-examples``, ``make undeploy``) run as printed. The tests of
this module share one deployment and run in order: deploy, look at the Pod, examples,
rolling update, leader deleted, undeploy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from e2e.cluster import Cluster
from e2e.node_fixtures import NodeCluster
from e2e.toolchain import REPO
from tests.integration import node_helpers as nh
from tests.integration.helpers import (
    METAL3_ADDRESSES,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    wait_for,
)

pytestmark = [pytest.mark.cluster, pytest.mark.node]

# What each example's README promises: addresses used per pool once everything is bound.
EXAMPLE_USAGE = {
    "provisioning": 2,
    "baremetal": 3,
    "fixed": 3,
    "v6": 2,
    "shared-nodes": 4,
    "edge-nodes": 1,
}


UPSTREAM = "upstream"


def leave_what_upstream_leaves(cluster: Cluster) -> None:
    """The CRDs and objects as Metal3 IPAM (v1.13) leaves them once its controller is gone.

    The claim holds the pool's third address, so a controller that allocated afresh instead
    of adopting would hand it the first one.
    """
    cluster.kubectl("apply", "-k", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    cluster.kubectl("create", "namespace", UPSTREAM)
    apply_all(
        cluster,
        [
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPPool",
                "metadata": {
                    "name": "legacy",
                    "namespace": UPSTREAM,
                    "finalizers": ["ippool.ipam.metal3.io"],
                },
                "spec": {
                    "namePrefix": "legacy",
                    "pools": [{"start": "10.20.0.10", "end": "10.20.0.20"}],
                    "prefix": 24,
                },
            },
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {
                    "name": "old-machine",
                    "namespace": UPSTREAM,
                    "labels": {"cluster.x-k8s.io/cluster-name": "legacy"},
                    "finalizers": ["ipclaim.ipam.metal3.io"],
                },
                "spec": {"pool": {"name": "legacy"}},
            },
        ],
    )
    pool_uid = cluster.get_json(POOLS, "legacy", "-n", UPSTREAM)["metadata"]["uid"]
    claim_uid = cluster.get_json(METAL3_CLAIMS, "old-machine", "-n", UPSTREAM)["metadata"]["uid"]
    apply_all(
        cluster,
        [
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPAddress",
                "metadata": {
                    "name": "legacy-10-20-0-12",
                    "namespace": UPSTREAM,
                    "labels": {"cluster.x-k8s.io/cluster-name": "legacy"},
                    "finalizers": ["ipaddress.ipam.metal3.io"],
                    "ownerReferences": [
                        {
                            "apiVersion": "ipam.metal3.io/v1alpha1",
                            "kind": "IPPool",
                            "name": "legacy",
                            "uid": pool_uid,
                        },
                        {
                            "apiVersion": "ipam.metal3.io/v1alpha1",
                            "kind": "IPClaim",
                            "name": "old-machine",
                            "uid": claim_uid,
                        },
                    ],
                },
                "spec": {
                    "address": "10.20.0.12",
                    "prefix": 24,
                    "pool": {"name": "legacy"},
                    "claim": {"name": "old-machine"},
                },
            }
        ],
    )
    for kind, name, status in (
        (METAL3_CLAIMS, "old-machine", {"address": {"name": "legacy-10-20-0-12"}}),
        (
            POOLS,
            "legacy",
            {"indexes": {"old-machine": "10.20.0.12"}, "lastUpdated": "2026-01-01T00:00:00Z"},
        ),
    ):
        cluster.kubectl(
            "patch",
            kind,
            name,
            "-n",
            UPSTREAM,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )


def legacy_objects(cluster: Cluster) -> dict[str, tuple[str, list[str]]]:
    """Kind/name -> (uid, finalizers) of everything in the upgrade namespace."""
    found = {}
    for kind in (POOLS, METAL3_CLAIMS, METAL3_ADDRESSES):
        for item in (cluster.get_json(kind, "-n", UPSTREAM) or {"items": []})["items"]:
            meta = item["metadata"]
            found[f"{kind}/{meta['name']}"] = (meta["uid"], sorted(meta.get("finalizers", [])))
    return found


@pytest.fixture(scope="module")
def upgraded_from(node_cluster: NodeCluster) -> dict[str, tuple[str, list[str]]]:
    """What Metal3 IPAM left, recorded before this controller is deployed beside it."""
    leave_what_upstream_leaves(node_cluster.plane)
    return legacy_objects(node_cluster.plane)


@pytest.fixture(scope="module")
def cluster(
    node_cluster: NodeCluster, upgraded_from: dict[str, tuple[str, list[str]]]
) -> Iterator[Cluster]:
    """The node's control plane with `make deploy` applied and rolled out."""
    plane = node_cluster.plane
    nh.make(plane, "deploy")
    try:
        nh.wait_rollout(plane)
    except Exception:
        print(nh.describe(plane))
        raise
    yield plane
    nh.make(plane, "undeploy")
    for namespace in ("ha", UPSTREAM):
        plane.kubectl(
            "delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False
        )


def the_pod(cluster: Cluster) -> dict[str, object]:
    (pod,) = nh.wait_settled(cluster, 1)
    return pod


def test_make_deploy_makes_the_deployment_available_with_a_ready_pod(cluster: Cluster) -> None:
    deployment = cluster.get_json("deployment", nh.DEPLOYMENT, "-n", nh.SYSTEM)
    conditions = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
    assert conditions["Available"] == "True"
    pod = the_pod(cluster)
    (status,) = pod["status"]["containerStatuses"]  # type: ignore[index]
    assert status["ready"]
    assert "running" in status["state"]
    assert status["image"] == "docker.io/library/capi-ipam:dev"
    schema = cluster.get_json("flowschema", "ipam-leader-election")
    assert schema["spec"]["priorityLevelConfiguration"] == {"name": "leader-election"}


def test_objects_left_by_metal3_ipam_are_adopted_as_they_are(
    cluster: Cluster, upgraded_from: dict[str, tuple[str, list[str]]]
) -> None:
    assert wait_for(
        "the legacy pool recounted",
        lambda: nh.pool_usage(cluster, UPSTREAM) == {"legacy": 1},
        timeout=90,
    )
    assert legacy_objects(cluster) == upgraded_from, "same objects, same finalizers"
    assert nh.bindings(cluster, UPSTREAM) == {"old-machine": "legacy-10-20-0-12"}
    apply_all(cluster, [nh.claim(UPSTREAM, "new-machine", "legacy")])
    wait_for("the new claim bound", lambda: len(nh.bindings(cluster, UPSTREAM)) == 2, 60)
    assert nh.bindings(cluster, UPSTREAM)["new-machine"] == "legacy-10-20-0-10"
    both = {"old-machine": "10.20.0.12", "new-machine": "10.20.0.10"}

    def indexes() -> object:
        return (cluster.get_json(POOLS, "legacy", "-n", UPSTREAM).get("status") or {}).get(
            "indexes"
        )

    # The pool's status follows the claims at its own pace (batched during a burst).
    wait_for("the pool's indexes list both claims", lambda: indexes() == both, 30)
    assert indexes() == both


def test_the_pod_runs_as_uid_65532_read_only_without_capabilities(cluster: Cluster) -> None:
    name = the_pod(cluster)["metadata"]["name"]  # type: ignore[index]
    report = json.loads(
        nh.pod_python(
            cluster,
            name,
            "import getpass, json, os\n"
            "status = dict(l.split(':\\t') for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
            "try:\n"
            "    open('/probe', 'w'); writable = True\n"
            "except OSError as e:\n"
            "    writable = e.strerror\n"
            "os.environ.pop('POD_ID', None); os.environ.pop('USER', None); os.environ.pop('LOGNAME', None)\n"
            "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'caps': status['CapEff'],"
            " 'bound': status['CapBnd'], 'nnp': status['NoNewPrivs'], 'root': writable,"
            " 'user': getpass.getuser(), 'pod_id': os.environ.get('POD_NAME')}))",
        )
    )
    assert (report["uid"], report["gid"]) == (65532, 65532)
    assert int(report["caps"], 16) == 0, "no effective capability"
    assert int(report["bound"], 16) == 0, "no capability to gain either"
    assert report["nnp"] == "1", "allowPrivilegeEscalation: false sets no_new_privs"
    assert report["root"] == "Read-only file system"
    assert report["user"] == "nonroot", "the image has a passwd entry for uid 65532"


def test_the_pod_leads_allocates_for_every_example_and_serves_metrics(cluster: Cluster) -> None:
    nh.make(cluster, "deploy-examples")
    try:
        usage = wait_for(
            "every example's pool to count what its README says",
            lambda: (u := nh.pool_usage(cluster, "default")) == EXAMPLE_USAGE and u,
            timeout=120,
        )
    except AssertionError:
        print(nh.pool_usage(cluster, "default"), nh.describe(cluster))
        raise
    assert usage == EXAMPLE_USAGE
    wants = cluster.get_json("ipclaims.ipam.metal3.io", "wants-101", "-n", "default")
    assert wants["status"]["errorMessage"] == "Requested IP not available"
    pod = the_pod(cluster)
    name = pod["metadata"]["name"]  # type: ignore[index]
    assert nh.leader(cluster) == name
    text = nh.metrics(cluster, name)
    for pool_name, used in EXAMPLE_USAGE.items():
        assert (
            f'ipam_pool_addresses_used{{namespace="default",pool="{pool_name}"}} {used}.0' in text
        )
    assert "ipam_allocations_total" in text
    health = nh.pod_python(
        cluster,
        name,
        "import urllib.request as u;"
        "print(u.urlopen('http://127.0.0.1:8080/healthz').status,"
        " u.urlopen('http://127.0.0.1:8080/readyz').status)",
    )
    assert health.split() == ["200", "200"], "the leader is live and ready"
    # Leading and working did not cost a restart (a crash after taking the Lease would).
    assert nh.restarts(the_pod(cluster)) == 0, nh.describe(cluster)


def test_two_replicas_hand_over_on_a_rolling_update_without_a_duplicate(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "ha")
    apply_all(cluster, [nh.pool("ha", "ha", "10.10.0.1", "10.10.0.250")])
    cluster.kubectl("scale", f"deployment/{nh.DEPLOYMENT}", "-n", nh.SYSTEM, "--replicas=2")
    before = {p["metadata"]["name"] for p in nh.wait_settled(cluster, 2)}
    with nh.claims_trickling_in(cluster, "ha", "ha", prefix="rolling") as created:
        cluster.kubectl("rollout", "restart", f"deployment/{nh.DEPLOYMENT}", "-n", nh.SYSTEM)
        nh.wait_rollout(cluster)
        after = nh.wait_settled(cluster, 2)
        wait_for("claims created after the rollout", lambda: len(created) >= 3, 30)
    assert before.isdisjoint(p["metadata"]["name"] for p in after)
    nh.assert_one_address_per_claim(cluster, "ha", len(created))
    names = {p["metadata"]["name"] for p in after}
    wait_for("one of the new pods to lead", lambda: nh.leader(cluster) in names, 60)
    assert all(nh.restarts(p) == 0 for p in after), nh.describe(cluster)


def test_deleting_the_leader_pod_loses_nothing(cluster: Cluster) -> None:
    if cluster.get_json("namespace", "ha") is None:
        cluster.kubectl("create", "namespace", "ha")
        apply_all(cluster, [nh.pool("ha", "ha", "10.10.0.1", "10.10.0.250")])
    apply_all(cluster, [nh.claim("ha", f"before-{i}", "ha") for i in range(5)])
    wait_for("claims bound before the delete", lambda: len(nh.bindings(cluster, "ha")) >= 5, 60)
    held = nh.bindings(cluster, "ha")
    old_leader = wait_for("a leader", lambda: nh.leader(cluster), 60)
    with nh.claims_trickling_in(cluster, "ha", "ha", prefix="after-delete") as created:
        cluster.kubectl("delete", "pod", "-n", nh.SYSTEM, old_leader, "--wait=true", timeout=120)
        new_leader = wait_for(
            "another pod to lead", lambda: (n := nh.leader(cluster)) != old_leader and n, 90
        )
        wait_for("claims created after the handover", lambda: len(created) >= 3, 30)
    nh.assert_one_address_per_claim(cluster, "ha", len(held) + len(created))
    after = nh.bindings(cluster, "ha")
    assert {c: after[c] for c in held} == held, "every claim kept its address"
    assert new_leader in {p["metadata"]["name"] for p in nh.pods(cluster)}


def test_make_undeploy_removes_the_controller_and_keeps_every_allocation(cluster: Cluster) -> None:
    held = nh.bindings(cluster, "default")
    assert held, "the examples were bound"
    nh.make(cluster, "undeploy")
    assert cluster.get_json("deployment", nh.DEPLOYMENT, "-n", nh.SYSTEM) is None
    assert cluster.get_json("namespace", nh.SYSTEM) is None
    assert cluster.get_json("clusterrole", "ipam-manager") is None
    assert cluster.get_json("flowschema", "ipam-leader-election") is None
    assert cluster.get_json("crd", POOLS) is not None
    assert nh.bindings(cluster, "default") == held
    # Deploying again adopts everything as it is.
    nh.make(cluster, "deploy")
    nh.wait_rollout(cluster)
    assert wait_for(
        "the pools recounted by the new controller",
        lambda: nh.pool_usage(cluster, "default") == EXAMPLE_USAGE,
        timeout=120,
    )
    assert nh.bindings(cluster, "default") == held
