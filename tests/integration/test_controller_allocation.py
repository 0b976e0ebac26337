"""The controller process against a real API server: bursts of claims, mixed kinds, instant deletes.

What YAML scenarios cannot say well: many claims of both kinds arriving at once, and claims
deleted a moment after they were created (upstream leaks an IPAddress then, #694).
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import CAPI_ADDRESSES, METAL3_ADDRESSES, apply_all, wait_for

pytestmark = pytest.mark.cluster


def pool(namespace: str, name: str, start: str, end: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"namePrefix": name, "pools": [{"start": start, "end": end}], "prefix": 24},
    }


def metal3_claim(namespace: str, name: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"pool": {"name": pool_name}},
    }


def capi_claim(namespace: str, name: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool_name}},
    }


def items(cluster: Cluster, resource: str, namespace: str) -> list[dict[str, Any]]:
    found = cluster.get_json(resource, "-n", namespace)
    return list(found["items"]) if found else []


def test_claims_of_both_kinds_arriving_at_once_never_share_an_address(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    claims = [metal3_claim(namespace, f"m{i}", "burst") for i in range(15)]
    claims += [capi_claim(namespace, f"c{i}", "burst") for i in range(15)]
    apply_all(source_cluster, [pool(namespace, "burst", "10.10.0.1", "10.10.0.40"), *claims])

    def all_addresses() -> list[str] | None:
        found = items(source_cluster, METAL3_ADDRESSES, namespace)
        found += items(source_cluster, CAPI_ADDRESSES, namespace)
        return [a["spec"]["address"] for a in found] if len(found) >= 30 else None

    addresses = wait_for("30 IPAddress objects", all_addresses, timeout=90)
    assert len(addresses) == 30
    assert len(set(addresses)) == 30, f"duplicates among {sorted(addresses)}"

    def pool_used() -> dict[str, Any] | None:
        status = source_cluster.get_json("ippools.ipam.metal3.io", "burst", "-n", namespace)[
            "status"
        ]
        # ``used`` also counts creations on their way; ``indexes`` only what was seen.
        return status if status.get("used") == 30 and len(status["indexes"]) == 30 else None

    status = wait_for("the pool to count and index 30 used addresses", pool_used)
    assert status["free"] == 10
    assert len(status["indexes"]) == 30


def test_claims_deleted_right_after_creation_leave_no_ipaddress_behind(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    apply_all(source_cluster, [pool(namespace, "quick", "10.20.0.1", "10.20.0.50")])
    for i in range(8):
        apply_all(
            source_cluster,
            [metal3_claim(namespace, f"q{i}", "quick"), capi_claim(namespace, f"q{i}", "quick")],
        )
        source_cluster.kubectl(
            "delete",
            "ipclaims.ipam.metal3.io,ipaddressclaims.ipam.cluster.x-k8s.io",
            f"q{i}",
            "-n",
            namespace,
            "--wait=false",
        )

    def claims_gone() -> bool:
        left = items(source_cluster, "ipclaims.ipam.metal3.io", namespace)
        left += items(source_cluster, "ipaddressclaims.ipam.cluster.x-k8s.io", namespace)
        return not left

    wait_for("every claim to be released and gone", claims_gone, timeout=90)

    def addresses_gone() -> bool:
        left = items(source_cluster, METAL3_ADDRESSES, namespace)
        left += items(source_cluster, CAPI_ADDRESSES, namespace)
        return not left

    wait_for("no IPAddress to remain", addresses_gone, timeout=30)


def test_a_capi_claim_for_another_providers_pool_is_left_untouched(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    foreign = capi_claim(namespace, "foreign", "shared")
    foreign["spec"]["poolRef"] = {
        "apiGroup": "ipam.cluster.x-k8s.io",
        "kind": "InClusterIPPool",
        "name": "shared",
    }
    ours = capi_claim(namespace, "ours", "shared")
    apply_all(source_cluster, [pool(namespace, "shared", "10.30.0.1", "10.30.0.9"), foreign, ours])

    wait_for(
        "our claim to be bound",
        lambda: (
            source_cluster.get_json(
                "ipaddressclaims.ipam.cluster.x-k8s.io", "ours", "-n", namespace
            )
            .get("status", {})
            .get("addressRef")
        ),
    )
    untouched = source_cluster.get_json(
        "ipaddressclaims.ipam.cluster.x-k8s.io", "foreign", "-n", namespace
    )
    assert not untouched["metadata"].get("finalizers")
    assert not untouched.get("status")


def test_kubectl_get_ipclaims_shows_the_address_itself(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    """The IP column reads the address the claim records, not only its IPAddress's name."""
    controllers.start()
    apply_all(
        source_cluster,
        [pool(namespace, "shown", "10.30.0.7", "10.30.0.9"), metal3_claim(namespace, "m", "shown")],
    )

    def listed() -> list[list[str]] | None:
        out = source_cluster.kubectl("get", "ipclaims.ipam.metal3.io", "-n", namespace).stdout
        rows = [line.split() for line in out.splitlines()]
        return rows if len(rows) == 2 and len(rows[1]) == 4 else None

    header, row = wait_for("the claim listed with its address", listed)
    assert header == ["NAME", "AGE", "ADDRESS", "IP"]
    assert (row[0], row[2], row[3]) == ("m", "shown-10-30-0-7", "10.30.0.7")
