"""A controller that stops, crashes or restarts loses nothing: everything is rebuilt from the objects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.controller import ControllerRunner
from tests.integration.helpers import (
    CAPI_ADDRESSES,
    CAPI_CLAIMS,
    METAL3_ADDRESSES,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    wait_for,
)

pytestmark = pytest.mark.cluster


@pytest.fixture
def controller(
    source_cluster: Cluster, namespace: str, tmp_path: Path
) -> Iterator[ControllerRunner]:
    """One controller with a Lease of its own (a killed one must not delay other tests)."""
    runner = ControllerRunner(
        source_cluster,
        tmp_path,
        extra_args=[f"--leader-election-id=restart-{namespace}", "--lease-duration=3"],
    )
    yield runner
    runner.stop()


def objects(namespace: str, count: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "pool", "namespace": namespace},
            "spec": {"namePrefix": "pool", "pools": [{"subnet": "10.40.0.0/24"}], "prefix": 24},
        }
    ]
    for i in range(count):
        result.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": f"m{i}", "namespace": namespace},
                "spec": {"pool": {"name": "pool"}},
            }
        )
        result.append(
            {
                "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
                "kind": "IPAddressClaim",
                "metadata": {"name": f"c{i}", "namespace": namespace},
                "spec": {
                    "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "pool"}
                },
            }
        )
    return result


def bindings(cluster: Cluster, namespace: str) -> dict[str, str] | None:
    """Claim -> IPAddress name for every claim, or None while one is still unbound."""
    result: dict[str, str] = {}
    for resource, field in ((METAL3_CLAIMS, "address"), (CAPI_CLAIMS, "addressRef")):
        for claim in cluster.get_json(resource, "-n", namespace)["items"]:
            name = (claim.get("status") or {}).get(field, {}).get("name")
            if not name:
                return None
            result[f"{claim['kind']}/{claim['metadata']['name']}"] = name
    return result


def addresses(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    return [
        *cluster.get_json(METAL3_ADDRESSES, "-n", namespace)["items"],
        *cluster.get_json(CAPI_ADDRESSES, "-n", namespace)["items"],
    ]


def test_statuses_wiped_while_the_controller_was_down_come_back_the_same(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    controller.start()
    apply_all(source_cluster, objects(namespace, 3))
    before = wait_for("every claim bound", lambda: bindings(source_cluster, namespace))
    wait_for(
        "pool status",
        lambda: (
            (source_cluster.get_json(POOLS, "pool", "-n", namespace).get("status") or {}).get(
                "used"
            )
            == 6
        ),
    )
    controller.stop()

    for resource in (METAL3_CLAIMS, CAPI_CLAIMS):
        for claim in source_cluster.get_json(resource, "-n", namespace)["items"]:
            source_cluster.kubectl(
                "patch",
                resource,
                claim["metadata"]["name"],
                "-n",
                namespace,
                "--subresource=status",
                "--type=merge",
                "-p",
                '{"status": null}',
            )
    source_cluster.kubectl(
        "patch",
        POOLS,
        "pool",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": null}',
    )
    assert bindings(source_cluster, namespace) is None

    controller.start()
    after = wait_for("every claim bound again", lambda: bindings(source_cluster, namespace))
    assert after == before
    status = wait_for(
        "pool status rebuilt",
        lambda: (source_cluster.get_json(POOLS, "pool", "-n", namespace).get("status") or {}).get(
            "indexes"
        ),
    )
    assert len(status) == 6
    assert len(addresses(source_cluster, namespace)) == 6


def test_a_claim_deleted_while_the_controller_was_down_is_released_at_start(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    controller.start()
    apply_all(source_cluster, objects(namespace, 1))
    wait_for("both claims bound", lambda: bindings(source_cluster, namespace))
    controller.stop()

    source_cluster.kubectl("delete", METAL3_CLAIMS, "m0", "-n", namespace, "--wait=false")
    time.sleep(1)
    assert (
        source_cluster.get_json(METAL3_CLAIMS, "m0", "-n", namespace) is not None
    )  # held by our finalizer

    controller.start()
    wait_for(
        "the deleted claim to go",
        lambda: source_cluster.get_json(METAL3_CLAIMS, "m0", "-n", namespace) is None,
    )
    wait_for(
        "its IPAddress to go",
        lambda: not source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace)["items"],
    )
    assert len(source_cluster.get_json(CAPI_ADDRESSES, "-n", namespace)["items"]) == 1


def test_a_controller_killed_mid_burst_and_restarted_gives_every_claim_exactly_one_address(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    controller.start()
    assert controller.wait_for_log("Controller running", timeout=30)
    apply_all(source_cluster, objects(namespace, 20))
    time.sleep(0.7)
    controller.kill()

    controller.start()
    wait_for("every claim bound", lambda: bindings(source_cluster, namespace), timeout=120)
    found = addresses(source_cluster, namespace)
    by_claim: dict[str, list[str]] = {}
    for item in found:
        claim = item["spec"].get("claim", item["spec"].get("claimRef"))["name"]
        by_claim.setdefault(f"{item['kind']}/{claim}", []).append(item["spec"]["address"])
    assert all(len(held) == 1 for held in by_claim.values()), by_claim
    assert len(by_claim) == 40
    ips = [item["spec"]["address"] for item in found]
    assert len(set(ips)) == len(ips), f"duplicates among {sorted(ips)}"
