"""Claims deleted 0-200 ms after their create was answered never leave an IPAddress behind.

A stress of both claim kinds against a real API server, with the controller under its
shipped RBAC: each claim is deleted a random moment after it was created, many at once,
so deletions land in every phase of an allocation (before the finalizer, between the
finalizer and the IPAddress, between the IPAddress and the status, after the status).
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from e2e.cluster import Cluster
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import CAPI_ADDRESSES, METAL3_ADDRESSES, apply_all, wait_for

pytestmark = pytest.mark.cluster

PAIRS = 1000
"""Create/delete pairs, half of them Metal3 IPClaims and half Cluster API IPAddressClaims."""
IN_FLIGHT = 24
MAX_DELAY = 0.2

KINDS = {
    "metal3": ("ipam.metal3.io", "v1alpha1", "ipclaims"),
    "capi": ("ipam.cluster.x-k8s.io", "v1beta2", "ipaddressclaims"),
}


def claim_body(kind: str, name: str, pool: str) -> dict[str, Any]:
    group, version, _ = KINDS[kind]
    spec = (
        {"pool": {"name": pool}}
        if kind == "metal3"
        else {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool}}
    )
    kind_name = "IPClaim" if kind == "metal3" else "IPAddressClaim"
    return {
        "apiVersion": f"{group}/{version}",
        "kind": kind_name,
        "metadata": {"name": name},
        "spec": spec,
    }


async def create_then_delete(
    api: k8s.CustomObjectsApi, namespace: str, pairs: int, seed: int
) -> list[str]:
    """Run the pairs, ``IN_FLIGHT`` at a time; return the names of what was created."""
    rng = random.Random(seed)
    plan = [
        ("metal3" if i % 2 else "capi", f"q{i}", rng.uniform(0, MAX_DELAY)) for i in range(pairs)
    ]
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(kind: str, name: str, delay: float) -> None:
        group, version, plural = KINDS[kind]
        async with slots:
            await api.create_namespaced_custom_object(
                group, version, namespace, plural, claim_body(kind, name, "quick")
            )
            await asyncio.sleep(delay)
            try:
                await api.delete_namespaced_custom_object(group, version, namespace, plural, name)
            except ApiException as err:
                if err.status != 404:
                    raise

    await asyncio.gather(*(one(*step) for step in plan))
    return [name for _, name, _ in plan]


async def stress(kubeconfig: str, namespace: str, pairs: int, seed: int) -> None:
    configuration = k8s.Configuration()
    await k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    async with k8s.ApiClient(configuration) as api_client:
        await create_then_delete(k8s.CustomObjectsApi(api_client), namespace, pairs, seed)


def items(cluster: Cluster, resource: str, namespace: str) -> list[dict[str, Any]]:
    found = cluster.get_json(resource, "-n", namespace)
    return list(found["items"]) if found else []


def test_claims_deleted_0_to_200ms_after_creation_leak_no_address(
    source_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start()
    apply_all(
        source_cluster,
        [
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPPool",
                "metadata": {"name": "quick", "namespace": namespace},
                "spec": {
                    "namePrefix": "quick",
                    "pools": [{"subnet": "10.40.0.0/20"}],
                    "prefix": 20,
                },
            }
        ],
    )
    asyncio.run(stress(str(source_cluster.kubeconfig_path), namespace, PAIRS, seed=PAIRS))

    def claims_gone() -> bool:
        left = items(source_cluster, "ipclaims.ipam.metal3.io", namespace)
        left += items(source_cluster, "ipaddressclaims.ipam.cluster.x-k8s.io", namespace)
        return not left

    wait_for("every claim to be released and gone", claims_gone, timeout=300)

    def leaked() -> list[str]:
        return [
            f"{a['kind']} {a['metadata']['name']} (claim "
            f"{(a['spec'].get('claim') or a['spec'].get('claimRef') or {}).get('name')})"
            for resource in (METAL3_ADDRESSES, CAPI_ADDRESSES)
            for a in items(source_cluster, resource, namespace)
        ]

    try:
        wait_for("no IPAddress to remain", lambda: not leaked(), timeout=90)
    except AssertionError:
        found = leaked()
        log = controllers.get().log_path.read_text().splitlines()
        first = found[0].rsplit("(claim ", 1)[-1].rstrip(")")
        mentions = re.compile(rf"\b{re.escape(first)}\b")
        story = "\n".join(line for line in log if mentions.search(line))
        raise AssertionError(
            f"{len(found)} IPAddress(es) leaked of {PAIRS} create/delete pairs: {found[:20]}\n"
            f"the controller's log about claim {first}:\n{story}"
        ) from None
