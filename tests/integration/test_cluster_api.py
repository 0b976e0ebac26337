"""Cluster API's own manager runs in each management cluster: its webhooks and conversion are real.

Every Cluster, Machine, IPAddressClaim and IPAddress a test creates passes Cluster API's
validating webhooks, a v1beta1 reader is served through its conversion webhook, and its
Cluster controller provisions the Clusters the stand-in providers describe.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e import capi
from e2e.cluster import Cluster
from e2e.controlplane import ControlPlane
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import (
    CAPI_ADDRESSES,
    CAPI_CLAIMS,
    apply_all,
    wait_for,
    workload_cluster,
)

pytestmark = pytest.mark.cluster


def pool(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": "conv", "namespace": namespace},
        "spec": {
            "namePrefix": "conv",
            "pools": [{"start": "10.20.0.1", "end": "10.20.0.9"}],
            "prefix": 24,
            "gateway": "10.20.0.254",
        },
    }


def claim(namespace: str, name: str, pool_ref: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"poolRef": pool_ref},
    }


OUR_POOL = {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "conv"}
OTHER_POOL = {"apiGroup": "ipam.example.com", "kind": "OtherPool", "name": "elsewhere"}


def address(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "address": "10.30.0.5",
            "prefix": 24,
            "claimRef": {"name": "foreign"},
            "poolRef": OTHER_POOL,
            **spec,
        },
    }


def bound_claim(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    def bound() -> dict[str, Any] | None:
        found = cluster.get_json(CAPI_CLAIMS, name, "-n", namespace)
        return found if ((found or {}).get("status") or {}).get("addressRef") else None

    result: dict[str, Any] = wait_for(f"claim {name} bound", bound)
    return result


def create(cluster: Cluster, obj: dict[str, Any]) -> Any:
    return cluster.kubectl("create", "-f", "-", input=json.dumps(obj), check=False)


def test_the_manager_runs_beside_each_harness_control_plane_and_logs_there(
    clusters: dict[str, Cluster],
) -> None:
    for cluster in clusters.values():
        if not isinstance(cluster, ControlPlane):
            pytest.skip("the harness runs no manager in a cluster it does not run")
        manager = cluster.capi_manager
        assert manager is not None
        assert manager.running
        assert manager.process in cluster.programs()
        log = cluster.workdir / "logs" / "capi-manager.log"
        assert manager.process.log_path == log
        serving = '"Serving webhook server" logger="controller-runtime.webhook" host="" port='
        assert f"{serving}{cluster.ports['capi_webhook']}\n" in log.read_text()


def test_a_cluster_that_names_no_provider_is_refused_by_cluster_apis_webhook(
    source_cluster: Cluster, namespace: str
) -> None:
    bare = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": "bare", "namespace": namespace},
        "spec": {"paused": False},
    }

    proc = create(source_cluster, bare)

    assert proc.returncode != 0
    assert capi.REFUSAL in proc.stderr
    assert source_cluster.get_json("clusters.cluster.x-k8s.io", "bare", "-n", namespace) is None


def test_cluster_api_provisions_a_cluster_of_the_stand_in_providers_and_owns_them(
    source_cluster: Cluster, namespace: str
) -> None:
    apply_all(source_cluster, workload_cluster(namespace, "wl"))

    def provisioned() -> dict[str, Any] | None:
        found = source_cluster.get_json("clusters.cluster.x-k8s.io", "wl", "-n", namespace)
        status = found.get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        done = status.get("initialization") == {
            "infrastructureProvisioned": True,
            "controlPlaneInitialized": True,
        }
        return found if done and conditions.get("ControlPlaneInitialized") == "True" else None

    cluster = wait_for("Cluster API to provision the Cluster", provisioned)
    assert "cluster.cluster.x-k8s.io" in cluster["metadata"]["finalizers"]
    for resource in ("harnessclusters", "harnesscontrolplanes"):
        stand_in = source_cluster.get_json(
            f"{resource}.harness.capi-ipam.dev", "wl", "-n", namespace
        )
        owners = stand_in["metadata"].get("ownerReferences") or []
        assert [o["uid"] for o in owners] == [cluster["metadata"]["uid"]]
        assert stand_in["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] == "wl"


def test_a_v1beta1_reader_gets_a_bound_ipaddressclaim_through_real_conversion(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    apply_all(source_cluster, [pool(namespace), claim(namespace, "old-reader", OUR_POOL)])
    current = bound_claim(source_cluster, namespace, "old-reader")

    old = source_cluster.get_json(
        "ipaddressclaims.v1beta1.ipam.cluster.x-k8s.io", "old-reader", "-n", namespace
    )

    assert old["apiVersion"] == "ipam.cluster.x-k8s.io/v1beta1"
    assert old["spec"]["poolRef"] == OUR_POOL
    assert old["status"]["addressRef"] == current["status"]["addressRef"]
    # v1beta1 keeps its own condition list; the v1beta2 conditions travel under
    # status.v1beta2, which only Cluster API's conversion puts there.
    ready = [c for c in old["status"]["v1beta2"]["conditions"] if c["type"] == "Ready"]
    assert [(c["status"], c["reason"]) for c in ready] == [("True", "Allocated")]
    assert "conditions" not in current["status"].get("v1beta2", {})


def test_the_capi_ipaddress_the_controller_creates_passes_cluster_apis_webhook(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    apply_all(source_cluster, [pool(namespace), claim(namespace, "checked", OUR_POOL)])
    ref = bound_claim(source_cluster, namespace, "checked")["status"]["addressRef"]
    created = source_cluster.get_json(CAPI_ADDRESSES, ref["name"], "-n", namespace)
    assert created["spec"] == {
        "address": "10.20.0.1",
        "prefix": 24,
        "gateway": "10.20.0.254",
        "claimRef": {"name": "checked"},
        "poolRef": OUR_POOL,
    }

    # The same webhook that admitted it judges it: its spec may not change.
    changed = {**created, "spec": {**created["spec"], "address": "10.20.0.2"}}
    proc = source_cluster.kubectl(
        "replace", "--dry-run=server", "-f", "-", input=json.dumps(changed), check=False
    )
    assert proc.returncode != 0
    assert "IPAddress spec is immutable" in proc.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"prefix": 40}, "prefix is too large for an IPv4 address", id="ipv4-prefix-40"
        ),
        pytest.param(
            {"claimRef": {"name": "wants-another-pool"}, "poolRef": OUR_POOL},
            "the referenced pool is different from the pool referenced by the claim",
            id="pool-not-the-claims",
        ),
    ],
)
def test_an_invalid_ipaddress_is_refused_by_cluster_apis_webhook(
    source_cluster: Cluster, namespace: str, spec: dict[str, Any], message: str
) -> None:
    # A claim for another provider's pool: no controller here touches it. The webhook
    # reads claims straight from the API server, so it sees this one at once.
    apply_all(source_cluster, [claim(namespace, "wants-another-pool", OTHER_POOL)])

    proc = create(source_cluster, address(namespace, "invalid", **spec))

    assert proc.returncode != 0
    assert "admission webhook" in proc.stderr
    assert message in proc.stderr
    assert source_cluster.get_json(CAPI_ADDRESSES, "invalid", "-n", namespace) is None
