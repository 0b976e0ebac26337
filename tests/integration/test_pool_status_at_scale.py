"""What a big pool shows: ``status.indexes`` past its limit, and back below it.

The limit is lowered by the controller's flag so that a handful of claims cross it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.controller import ControllerRunner
from tests.integration.helpers import METAL3_ADDRESSES, METAL3_CLAIMS, POOLS, apply_all, wait_for

pytestmark = pytest.mark.cluster

LIMIT = 3


@pytest.fixture
def controller(
    source_cluster: Cluster, namespace: str, tmp_path: Path
) -> Iterator[ControllerRunner]:
    """One controller for this namespace, listing at most LIMIT claims in status.indexes."""
    runner = ControllerRunner(
        source_cluster,
        tmp_path,
        namespaces=[namespace],
        lease_name=f"indexes-{namespace}",
        extra_args=[f"--max-status-indexes={LIMIT}"],
    )
    yield runner
    runner.stop()


def pool_and_claims(namespace: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "big", "namespace": namespace},
            "spec": {"namePrefix": "big", "pools": [{"subnet": "10.60.0.0/24"}], "prefix": 24},
        }
    ]
    for i in range(count):
        found.append(
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPClaim",
                "metadata": {"name": f"c{i}", "namespace": namespace},
                "spec": {"pool": {"name": "big"}},
            }
        )
    return found


def pool_status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    return dict(cluster.get_json(POOLS, "big", "-n", namespace).get("status") or {})


def test_past_the_limit_indexes_is_left_out_and_the_claims_counted_and_back_below_it(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    controller.start()
    apply_all(source_cluster, pool_and_claims(namespace, LIMIT + 2))

    def past() -> dict[str, Any] | None:
        status = pool_status(source_cluster, namespace)
        return status if status.get("indexesOmitted") == LIMIT + 2 else None

    status = wait_for(f"indexesOmitted: {LIMIT + 2}", past, timeout=120)
    assert "indexes" not in status
    assert status["used"] == LIMIT + 2
    claims = source_cluster.get_json(METAL3_CLAIMS, "-n", namespace)["items"]
    assert all((c.get("status") or {}).get("address", {}).get("name") for c in claims)

    source_cluster.kubectl("delete", METAL3_CLAIMS, "c0", "c1", "c2", "-n", namespace)

    def below() -> dict[str, Any] | None:
        status = pool_status(source_cluster, namespace)
        return status if len(status.get("indexes") or {}) == 2 else None

    status = wait_for("indexes listing the 2 claims left", below, timeout=120)
    addresses = source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace)["items"]
    assert status["indexes"] == {
        a["spec"]["claim"]["name"]: a["spec"]["address"] for a in addresses
    }
    assert "indexesOmitted" not in status
