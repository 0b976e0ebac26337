"""``ipam check-move``: each way a move loses something is found (exit 1); a clean namespace exits 0.

The objects are written by hand, as a controller (or a user) would leave them; the
last test lets the real clusterctl move a namespace and compares what arrived with what
check-move predicted would stay behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e import providers
from e2e.cluster import Cluster
from e2e.move import move
from e2e.pytest_plugin import Controllers
from tests.integration.helpers import (
    CAPI_ADDRESSES,
    CAPI_CLAIMS,
    METAL3_ADDRESSES,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    ipam,
    wait_for,
)

pytestmark = pytest.mark.cluster

METAL3 = "ipam.metal3.io/v1alpha1"
CAPI_IPAM = "ipam.cluster.x-k8s.io/v1beta2"
CAPI = "cluster.x-k8s.io/v1beta2"
MOVE_LABEL = "clusterctl.cluster.x-k8s.io/move"
RESOURCES = (POOLS, METAL3_CLAIMS, METAL3_ADDRESSES, CAPI_CLAIMS, CAPI_ADDRESSES)


class World:
    """Objects of one namespace, written in dependency order so owners carry real uids."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster = cluster
        self.namespace = namespace

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        body["metadata"]["namespace"] = self.namespace
        apply_all(self.cluster, [body])
        kind = f"{body['kind'].lower()}.{body['apiVersion'].split('/')[0]}"
        found = self.cluster.get_json(kind, body["metadata"]["name"], "-n", self.namespace)
        assert found is not None
        return dict(found)

    def cluster_object(self, name: str = "wl") -> dict[str, Any]:
        """A Cluster that Cluster API accepts, after its stand-in provider objects."""
        *stand_ins, cluster = providers.workload_cluster(name)
        for body in stand_ins:
            self.create(body)
        return self.create(cluster)

    def pool(self, name: str = "p", *owners: dict[str, Any]) -> dict[str, Any]:
        return self.create(
            {
                "apiVersion": METAL3,
                "kind": "IPPool",
                "metadata": {"name": name, "ownerReferences": [ref(o) for o in owners]},
                "spec": {"namePrefix": name, "pools": [{"start": "10.66.0.1", "end": "10.66.0.9"}]},
            }
        )

    def metal3_claim(self, name: str, finalizers: list[str] | None = None) -> dict[str, Any]:
        return self.create(
            {
                "apiVersion": METAL3,
                "kind": "IPClaim",
                "metadata": {"name": name, "finalizers": finalizers or []},
                "spec": {"pool": {"name": "p"}},
            }
        )

    def capi_claim(self, name: str, *owners: dict[str, Any], **labels: str) -> dict[str, Any]:
        return self.create(
            {
                "apiVersion": CAPI_IPAM,
                "kind": "IPAddressClaim",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "ownerReferences": [ref(o) for o in owners],
                },
                "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "p"}},
            }
        )

    def address(
        self, pool: dict[str, Any], claim: dict[str, Any] | str, ip: str, name: str = ""
    ) -> dict[str, Any]:
        claim_name = claim if isinstance(claim, str) else claim["metadata"]["name"]
        owners = [ref(pool)] + ([] if isinstance(claim, str) else [ref(claim)])
        name = name or f"p-{ip.replace('.', '-')}"
        capi = not isinstance(claim, str) and claim["kind"] == "IPAddressClaim"
        spec: dict[str, Any] = (
            {
                "address": ip,
                "prefix": 24,
                "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "p"},
                "claimRef": {"name": claim_name},
            }
            if capi
            else {
                "address": ip,
                "pool": {"name": "p", "namespace": self.namespace},
                "claim": {"name": claim_name, "namespace": self.namespace},
            }
        )
        return self.create(
            {
                "apiVersion": CAPI_IPAM if capi else METAL3,
                "kind": "IPAddress",
                "metadata": {"name": name, "ownerReferences": owners},
                "spec": spec,
            }
        )


def ref(body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }


def obj_ref(body: dict[str, Any]) -> str:
    return f"{body['kind'].lower()}.{body['apiVersion'].split('/')[0]}/{body['metadata']['name']}"


def check(cluster: Cluster, namespace: str, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = ipam(
        "check-move",
        "-n",
        namespace,
        "-o",
        "json",
        f"--kubeconfig={cluster.kubeconfig_path}",
        *extra,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def findings(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["code"], f["ref"]) for f in report["findings"]}


# --- one builder per problem kind: objects in, the findings they must produce out --------------

Expected = set[tuple[str, str]]


def clean(world: World) -> Expected:
    cluster = world.cluster_object()
    pool = world.pool("p", cluster)
    metal3 = world.metal3_claim("m0")
    owned = world.capi_claim("c0", cluster)
    labelled = world.capi_claim("c1", **{MOVE_LABEL: ""})
    world.address(pool, metal3, "10.66.0.1")
    world.address(pool, owned, "10.66.0.2")
    world.address(pool, labelled, "10.66.0.3")
    return set()


def unowned_capi_claim(world: World) -> Expected:
    pool = world.pool()
    lonely = world.capi_claim("lonely")
    address = world.address(pool, lonely, "10.66.0.1")
    return {("stays-behind", obj_ref(lonely)), ("stays-behind", obj_ref(address))}


def orphaned_address(world: World) -> Expected:
    pool = world.pool()
    orphan = world.address(pool, "gone", "10.66.0.1")
    return {("orphaned-address", obj_ref(orphan))}


def duplicate_address(world: World) -> Expected:
    pool = world.pool()
    a, b = world.metal3_claim("a"), world.metal3_claim("b")
    one = world.address(pool, a, "10.66.0.1")
    two = world.address(pool, b, "10.66.0.1", name="q-10-66-0-1")
    return {("duplicate-address", obj_ref(one)), ("duplicate-address", obj_ref(two))}


def claim_holds_several(world: World) -> Expected:
    pool = world.pool()
    a = world.metal3_claim("a")
    one, two = world.address(pool, a, "10.66.0.1"), world.address(pool, a, "10.66.0.2")
    return {("claim-holds-several", obj_ref(one)), ("claim-holds-several", obj_ref(two))}


def foreign_finalizer(world: World) -> Expected:
    world.pool()
    claim = world.metal3_claim("kept", finalizers=["example.com/keep"])
    return {("foreign-finalizer", obj_ref(claim))}


CASES: dict[str, Callable[[World], Expected]] = {
    "clean": clean,
    "stays-behind": unowned_capi_claim,
    "orphaned-address": orphaned_address,
    "duplicate-address": duplicate_address,
    "claim-holds-several": claim_holds_several,
    "foreign-finalizer": foreign_finalizer,
}


@pytest.fixture
def world(source_cluster: Cluster, namespace: str) -> Iterator[World]:
    yield World(source_cluster, namespace)
    for claim in (source_cluster.get_json(METAL3_CLAIMS, "-n", namespace) or {}).get("items", []):
        if claim["metadata"].get("finalizers"):
            source_cluster.kubectl(
                "patch", METAL3_CLAIMS, claim["metadata"]["name"], "-n", namespace,
                "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
            )  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_check_move_finds_each_problem_kind_and_passes_a_clean_namespace(
    world: World, case: str
) -> None:
    expected = CASES[case](world)
    code, report = check(world.cluster, world.namespace)
    assert findings(report) == expected
    assert (code, report["ok"]) == ((1, False) if expected else (0, True))
    assert sum(report["problems"].values()) == len(expected)

    human = ipam(
        "check-move", "-n", world.namespace, f"--kubeconfig={world.cluster.kubeconfig_path}"
    )
    assert human.returncode == code
    assert "\x1b" not in human.stdout
    for _, name in expected:
        assert f"  {name}\n" in human.stdout
    if expected:
        assert f"{case}: " in human.stdout
        assert human.stdout.endswith(
            f"{len(expected)} problem{'s' if len(expected) > 1 else ''}: clusterctl move would "
            "lose what is listed above.\n"
        )
    else:
        assert human.stdout.endswith(
            "No problem: clusterctl move takes every pool, claim and address.\n"
        )


def test_check_move_lists_at_most_the_limit_and_the_rest_in_json_and_yaml(world: World) -> None:
    expected = claim_holds_several(world)
    config = f"--kubeconfig={world.cluster.kubeconfig_path}"
    human = ipam("check-move", "-n", world.namespace, "--limit=1", config)
    assert "  ... and 1 more (-o json lists every one)\n" in human.stdout
    as_yaml = ipam("check-move", "-n", world.namespace, "-o", "yaml", config)
    assert as_yaml.returncode == 1
    assert "code: claim-holds-several" in as_yaml.stdout
    everywhere = ipam("check-move", "-A", "-o", "json", config)
    report = json.loads(everywhere.stdout)
    assert report["namespace"] is None
    ours = {(f["code"], f["ref"]) for f in report["findings"] if f["namespace"] == world.namespace}
    assert ours == expected


def test_a_crd_without_clusterctls_label_leaves_its_objects_behind(world: World) -> None:
    crd = "ipclaims.ipam.metal3.io"
    world.cluster.kubectl("label", "crd", crd, "clusterctl.cluster.x-k8s.io-")
    try:
        pool = world.pool()
        claim = world.metal3_claim("a")
        address = world.address(pool, claim, "10.66.0.1")
        code, report = check(world.cluster, world.namespace)
    finally:
        world.cluster.kubectl("label", "crd", crd, "clusterctl.cluster.x-k8s.io=", "--overwrite")
    assert code == 1
    causes = {(f["ref"], f["cause"]) for f in report["findings"]}
    assert causes == {(obj_ref(claim), "not-listed"), (obj_ref(address), "owner-not-listed")}
    assert "its CRD lacks the label clusterctl.cluster.x-k8s.io" in report["findings"][0]["message"]


def all_objects(cluster: Cluster, namespace: str) -> set[str]:
    found = set()
    for resource in RESOURCES:
        for item in (cluster.get_json(resource, "-n", namespace) or {}).get("items", []):
            found.add(obj_ref(item))
    return found


def test_what_check_move_predicts_is_what_the_real_clusterctl_move_leaves_behind(
    source_cluster: Cluster, target_cluster: Cluster, namespace: str, controllers: Controllers
) -> None:
    controllers.start("source")
    world = World(source_cluster, namespace)
    cluster = world.cluster_object()
    world.create(
        {
            "apiVersion": METAL3,
            "kind": "IPPool",
            "metadata": {"name": "p"},
            "spec": {
                "clusterName": "wl",
                "namePrefix": "p",
                "pools": [{"start": "10.67.0.1", "end": "10.67.0.9"}],
            },
        }
    )
    world.metal3_claim("m0")
    world.capi_claim("owned", cluster)
    world.capi_claim("labelled", **{MOVE_LABEL: ""})
    lonely = world.capi_claim("lonely")

    def bound() -> bool:
        capi = (source_cluster.get_json(CAPI_CLAIMS, "-n", namespace) or {}).get("items", [])
        metal3 = (source_cluster.get_json(METAL3_CLAIMS, "-n", namespace) or {}).get("items", [])
        pool = source_cluster.get_json(POOLS, "p", "-n", namespace) or {}
        return (
            all((c.get("status") or {}).get("addressRef") for c in capi)
            and all((c.get("status") or {}).get("address") for c in metal3)
            and bool(pool["metadata"].get("ownerReferences"))
        )

    wait_for("every claim bound and the pool owned by its Cluster", bound, timeout=90)
    code, report = check(source_cluster, namespace)
    predicted = {f["ref"] for f in report["findings"] if f["code"] == "stays-behind"}
    lonely_address = (source_cluster.get_json(CAPI_CLAIMS, "lonely", "-n", namespace) or {})[
        "status"
    ]["addressRef"]["name"]
    assert predicted == {obj_ref(lonely), f"ipaddress.ipam.cluster.x-k8s.io/{lonely_address}"}
    assert code == 1
    before = all_objects(source_cluster, namespace)
    assert len(before) == 9  # the pool, four claims, their four addresses

    move(source_cluster, target_cluster, namespace)

    arrived = all_objects(target_cluster, namespace)
    assert arrived == before - predicted
    assert predicted <= all_objects(source_cluster, namespace)
