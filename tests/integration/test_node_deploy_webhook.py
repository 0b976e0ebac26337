"""`make deploy WEBHOOK=secret` on a real node: the webhook reached through its Service.

No cert-manager here (nothing is downloaded), so the harness plays its part: it issues the
serving certificate for ``ipam-webhook-service.metal3-ipam-system.svc`` with the control
plane's CA into the Secret the Deployment mounts, and puts that CA into the configuration's
``caBundle``, which is what cert-manager's Certificate and ``inject-ca-from`` do in a
cluster. The API server reaches the Service at a ready Pod's address (no kube-proxy). With
two replicas, each answers; that a standby answers is shown in test_webhook.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from e2e import pki
from e2e.cluster import Cluster
from e2e.node_fixtures import NodeCluster
from tests.integration import node_helpers as nh
from tests.integration.helpers import METAL3_CLAIMS, POOLS, apply_all, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.node]

CONFIGURATION = "ipam-validating-webhook-configuration"
SERVICE_NAMES = [
    "ipam-webhook-service.metal3-ipam-system.svc",
    "ipam-webhook-service.metal3-ipam-system.svc.cluster.local",
]
NS = "webhook"


@pytest.fixture(scope="module")
def cluster(node_cluster: NodeCluster) -> Iterator[Cluster]:
    plane = node_cluster.plane
    cert, key = pki.serving_certificate(plane.pki, "ipam-webhook-service", SERVICE_NAMES)
    nh.make(plane, "deploy", "WEBHOOK=secret")
    plane.kubectl(
        "create", "secret", "tls", "ipam-webhook-service-cert",
        f"--cert={cert}", f"--key={key}", "-n", nh.SYSTEM,
    )  # fmt: skip
    hooks = plane.get_json("validatingwebhookconfiguration", CONFIGURATION)["webhooks"]
    ca = base64.b64encode(plane.pki.ca_cert.read_bytes()).decode()
    patch = [
        {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": ca}
        for i in range(len(hooks))
    ]
    plane.kubectl(
        "patch", "validatingwebhookconfiguration", CONFIGURATION,
        "--type=json", "-p", json.dumps(patch),
    )  # fmt: skip
    plane.kubectl("scale", f"deployment/{nh.DEPLOYMENT}", "-n", nh.SYSTEM, "--replicas=2")
    try:
        nh.wait_rollout(plane)
        nh.wait_settled(plane, 2)
    except Exception:
        print(nh.describe(plane))
        raise
    plane.kubectl("create", "namespace", NS)
    yield plane
    plane.kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def refusals(cluster: Cluster, pods: list[str]) -> dict[str, int]:
    """How many refusals each Pod has logged."""
    found = {}
    for pod in pods:
        proc = cluster.kubectl("logs", "-n", nh.SYSTEM, pod, check=False)
        found[pod] = proc.stdout.count("Refused create of IPPool")
    return found


def test_every_replica_answers_through_the_service(cluster: Cluster) -> None:
    """The API server keeps its connection to the Pod it reached: that Pod is deleted, and
    another replica answers the requests that follow, through the same Service.

    Which one is the API server's choice: the other replica, or the Pod the Deployment
    starts in place of the deleted one once it is ready (a new connection goes to any ready
    endpoint and stays there), so a refusal logged by any Pod but the deleted one counts."""
    # Beyond what the CRD's own rules see: only the webhook compares pre-allocations with
    # the pool's ranges.
    bad = nh.pool(NS, "outside", "10.30.0.1", "10.30.0.9")
    bad["spec"]["preAllocations"] = {"m": "10.9.9.9"}
    expected = (
        'The IPPool "outside" is invalid: spec.preAllocations[m]: 10.9.9.9 is out of bounds '
        "of the pools given\n"
    )
    names = [p["metadata"]["name"] for p in nh.pods(cluster)]
    assert len(names) == 2

    unanswered: list[str] = []

    def refused() -> bool:
        proc = cluster.kubectl("create", "-f", "-", input=json.dumps(bad), check=False)
        if 'failed calling webhook "validation.ippool.ipam.metal3.io"' in proc.stderr:
            unanswered.append(proc.stderr)
            return False  # the Pod that answered before is on its way out
        assert (proc.returncode, proc.stderr) == (1, expected)
        return True

    assert refused()
    counts = refusals(cluster, names)
    (first,) = [pod for pod, count in counts.items() if count == 1]
    cluster.kubectl("delete", "pod", first, "-n", nh.SYSTEM, "--wait=false")

    def answered_by_another() -> bool:
        if not refused():
            return False
        others = [p["metadata"]["name"] for p in nh.pods(cluster)]
        return sum(refusals(cluster, [p for p in others if p != first]).values()) > 0

    try:
        wait_for(
            f"a Pod other than {first} to answer through the Service", answered_by_another, 120
        )
    except AssertionError:
        print(f"{len(unanswered)} calls of the webhook failed; the last: {unanswered[-1:]}")
        print(nh.describe(cluster))  # which Pods were ready, and what each logged
        raise
    nh.wait_rollout(cluster)
    nh.wait_settled(cluster, 2)


def test_good_objects_and_the_controllers_own_writes_pass(cluster: Cluster) -> None:
    apply_all(
        cluster,
        [nh.pool(NS, "prov", "10.31.0.10", "10.31.0.20")]
        + [nh.claim(NS, f"m-{i}", "prov") for i in range(3)],
    )
    assert wait_for("three claims bound", lambda: len(nh.bindings(cluster, NS)) == 3, 90)
    nh.assert_one_address_per_claim(cluster, NS, 3)
    cluster.kubectl("delete", METAL3_CLAIMS, "--all", "-n", NS, timeout=90)
    cluster.kubectl("delete", POOLS, "prov", "-n", NS, timeout=90)


def test_make_undeploy_removes_the_webhook_before_the_controller(cluster: Cluster) -> None:
    nh.make(cluster, "undeploy")
    assert cluster.get_json("validatingwebhookconfiguration", CONFIGURATION) is None
    # Nothing is left to refuse or to fail: a pool is accepted with no controller at all.
    proc = cluster.kubectl(
        "create", "-f", "-", input=json.dumps(nh.pool(NS, "after", "10.32.0.1", "10.32.0.9"))
    )
    assert proc.returncode == 0
