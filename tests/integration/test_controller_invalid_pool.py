"""A pool stored before the CRD's rules, with invalid entries: the controller hands out nothing from them.

The CRD now refuses such pools, so the test stores them the way an older installation did:
with the rules taken off the IPPool CRD for a moment, then put back. The controller then
meets them as it would after an upgrade: claims of a pool whose every entry is invalid are
told why (not "Exhausted IP Pools"), a pool with one valid entry hands out only from that
one, and the pool's status can still be written under the restored rules (ratcheting).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from e2e import install
from e2e.cluster import Cluster
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import CAPI_ADDRESSES, METAL3_ADDRESSES, POOLS, apply_all, wait_for
from tests.integration.test_controller_allocation import capi_claim, items, metal3_claim

pytestmark = pytest.mark.cluster


def _pools_crd() -> dict[str, Any]:
    (crd,) = [d for d in install.our_crds() if d["metadata"]["name"] == POOLS]
    return crd


def _without_rules(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_rules(v)
            for k, v in node.items()
            if k not in ("x-kubernetes-validations", "maxItems")
        }
    if isinstance(node, list):
        return [_without_rules(v) for v in node]
    return node


def _apply(cluster: Cluster, crd: dict[str, Any]) -> None:
    cluster.apply(json.dumps(crd))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{POOLS}")


def store_without_rules(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    """Create ``objects`` while the IPPool CRD has no rules; the rules are back on return."""
    crd = _pools_crd()
    _apply(cluster, _without_rules(crd))
    try:
        listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        wait_for(
            "the IPPool CRD without rules to serve",
            lambda: (
                cluster.kubectl(
                    "apply", "--server-side", "-f", "-", input=listed, check=False
                ).returncode
                == 0
            ),
        )
    finally:
        _apply(cluster, crd)
    probe = {**objects[0], "metadata": {**objects[0]["metadata"], "name": "probe"}}
    wait_for(
        "the IPPool rules to apply again",
        lambda: (
            cluster.kubectl(
                "create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False
            ).returncode
            != 0
        ),
    )


def ippool(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"namePrefix": name, **spec},
    }


@pytest.fixture
def restored_crd(source_cluster: Cluster) -> Iterator[None]:
    """Whatever happens in the test, the session's IPPool CRD ends with its rules."""
    yield
    _apply(source_cluster, _pools_crd())


def ready(cluster: Cluster, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
    obj = cluster.get_json(resource, name, "-n", namespace) or {}
    conditions = obj.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == "Ready"), None)


PROBLEMS = (
    "spec.pools[0].prefix: prefix 33 is longer than 32, the longest IPv4 prefix; "
    "spec.pools[1].end: end fd00::1 and start 10.0.1.1 are of different IP families"
)


def test_claims_of_a_pool_whose_every_entry_is_invalid_are_told_why_and_get_nothing(
    source_cluster: Cluster, namespace: str, controllers: Controllers, restored_crd: None
) -> None:
    store_without_rules(
        source_cluster,
        [
            ippool(
                namespace,
                "broken",
                {
                    "pools": [
                        {"subnet": "10.0.0.0/24", "prefix": 33},
                        {"start": "10.0.1.1", "end": "fd00::1", "prefix": 24},
                    ]
                },
            )
        ],
    )
    apply_all(
        source_cluster,
        [metal3_claim(namespace, "m0", "broken"), capi_claim(namespace, "c0", "broken")],
    )
    controllers.start()
    expected = f"Invalid IP pool, no entry can hand out addresses: {PROBLEMS}"

    def metal3_error() -> str | None:
        claim = source_cluster.get_json("ipclaims.ipam.metal3.io", "m0", "-n", namespace) or {}
        message = claim.get("status", {}).get("errorMessage")
        return str(message) if message else None

    assert wait_for("the Metal3 claim's error", metal3_error) == expected
    condition = wait_for(
        "the CAPI claim's Ready condition",
        lambda: ready(source_cluster, "ipaddressclaims.ipam.cluster.x-k8s.io", namespace, "c0"),
    )
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "PoolNotReady",
        expected,
    )
    pool_ready = wait_for(
        "the pool's Ready condition", lambda: ready(source_cluster, POOLS, namespace, "broken")
    )
    assert (pool_ready["status"], pool_ready["reason"]) == ("False", "InvalidSpec")
    # Under the restored rules the controller could still write the pool's metadata too.
    stored = source_cluster.get_json(POOLS, "broken", "-n", namespace)
    assert "ippool.ipam.metal3.io" in stored["metadata"]["finalizers"]
    assert items(source_cluster, METAL3_ADDRESSES, namespace) == []
    assert items(source_cluster, CAPI_ADDRESSES, namespace) == []


def test_a_pool_with_one_valid_entry_hands_out_only_from_that_one(
    source_cluster: Cluster, namespace: str, controllers: Controllers, restored_crd: None
) -> None:
    store_without_rules(
        source_cluster,
        [
            ippool(
                namespace,
                "partly",
                {
                    "prefix": 33,
                    "pools": [
                        {"subnet": "10.0.0.0/30"},
                        {"start": "10.0.1.1", "end": "fd00::1"},
                        {"start": "10.0.2.1", "end": "10.0.2.3", "prefix": 24},
                    ],
                },
            )
        ],
    )
    apply_all(
        source_cluster,
        [metal3_claim(namespace, f"m{i}", "partly") for i in range(2)]
        + [capi_claim(namespace, "c0", "partly")],
    )
    controllers.start()

    def handed_out() -> list[tuple[str, int]] | None:
        found = [
            (a["spec"]["address"], a["spec"]["prefix"])
            for resource in (METAL3_ADDRESSES, CAPI_ADDRESSES)
            for a in items(source_cluster, resource, namespace)
        ]
        return sorted(found) if len(found) == 3 else None

    assert wait_for("three addresses", handed_out) == [
        ("10.0.2.1", 24),
        ("10.0.2.2", 24),
        ("10.0.2.3", 24),
    ]
