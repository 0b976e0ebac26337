"""Raw bodies become records without ever raising, and records become upstream-shaped IPAddresses."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from ipam.core import ledger, pools
from ipam.kube import bodies, resources


def pool_body(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "pool1", "namespace": "ns", "uid": "pool-uid", "generation": 2},
        "spec": {
            "namePrefix": "pool1-prov",
            "pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
            **spec,
        },
    }


def metal3_claim(name: str = "claim1", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": "claim-uid", **meta},
        "spec": {"pool": {"name": "pool1"}},
    }


def capi_claim(api_group: str = "ipam.metal3.io", kind: str = "IPPool") -> dict[str, Any]:
    return {
        "metadata": {"name": "claim2", "namespace": "ns", "uid": "capi-uid"},
        "spec": {"poolRef": {"apiGroup": api_group, "kind": kind, "name": "pool1"}},
    }


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"metadata": None, "spec": "nonsense"}, id="wrong-types"),
        pytest.param(
            {"metadata": {"finalizers": "x", "labels": [1]}, "spec": {"pool": 3}}, id="garbage"
        ),
    ],
)
def test_malformed_bodies_give_empty_records_instead_of_raising(body: dict[str, Any]) -> None:
    claim = bodies.claim_record(resources.METAL3, body)
    address = bodies.address_record(resources.CAPI, body)
    pool = bodies.pool_record(body)
    assert claim.pool_name == ""
    assert address.pool_name == ""
    assert pool.pool.total == 0
    assert claim.meta.finalizers == ()


def test_a_capi_claim_for_an_ipam_metal3_pool_is_served() -> None:
    record = bodies.claim_record(resources.CAPI, capi_claim())
    assert record.served
    assert record.pool_name == "pool1"
    assert record.key == ledger.ClaimKey("capi", "claim2")


@pytest.mark.parametrize(
    ("api_group", "kind"),
    [
        pytest.param("ipam.cluster.x-k8s.io", "InClusterIPPool", id="in-cluster-provider"),
        pytest.param("ipam.metal3.io", "GlobalPool", id="other-kind-same-group"),
        pytest.param("example.com", "IPPool", id="same-kind-other-group"),
    ],
)
def test_a_capi_claim_for_another_providers_pool_is_not_served(api_group: str, kind: str) -> None:
    assert not bodies.claim_record(resources.CAPI, capi_claim(api_group, kind)).served


def test_the_requested_ip_annotation_and_deletion_markers_are_read() -> None:
    body = metal3_claim(
        annotations={
            "ipAddress": "10.0.0.15",
            "cluster.x-k8s.io/paused": "",
            "clusterctl.cluster.x-k8s.io/delete-for-move": "",
        },
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["ipclaim.ipam.metal3.io", "metal3data.infrastructure.cluster.x-k8s.io"],
    )
    record = bodies.claim_record(resources.METAL3, body)
    assert record.requested == "10.0.0.15"
    assert record.meta.paused
    assert record.meta.delete_for_move
    assert record.meta.deleting
    assert record.has_finalizer
    assert record.foreign_finalizers == ("metal3data.infrastructure.cluster.x-k8s.io",)


def test_an_empty_ipaddress_annotation_requests_nothing() -> None:
    record = bodies.claim_record(resources.METAL3, metal3_claim(annotations={"ipAddress": ""}))
    assert record.requested is None


def test_the_claims_cluster_comes_from_capi_spec_or_the_cluster_name_label() -> None:
    capi = capi_claim()
    capi["spec"]["clusterName"] = "c1"
    labelled = metal3_claim(labels={"cluster.x-k8s.io/cluster-name": "c2"})
    assert bodies.claim_record(resources.CAPI, capi).cluster_name == "c1"
    assert bodies.claim_record(resources.METAL3, labelled).cluster_name == "c2"


def test_an_ipv6_address_is_recorded_in_canonical_form() -> None:
    body = {
        "metadata": {"name": "p-fd00--5", "namespace": "ns", "uid": "u"},
        "spec": {"address": "FD00:0:0::0005", "pool": {"name": "pool1"}, "claim": {"name": "c"}},
    }
    record = bodies.address_record(resources.METAL3, body)
    assert record.address == "fd00::5"
    assert record.holding == ledger.Holding("fd00::5", ledger.ClaimKey("metal3", "c"), "p-fd00--5")


def test_a_capi_address_of_another_providers_pool_belongs_to_no_pool() -> None:
    body = {
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": {
            "address": "10.0.0.1",
            "poolRef": {
                "apiGroup": "ipam.cluster.x-k8s.io",
                "kind": "InClusterIPPool",
                "name": "pool1",
            },
            "claimRef": {"name": "c"},
        },
    }
    assert bodies.address_record(resources.CAPI, body).pool_name == ""


def details(prefix: int = 24, gateway: str | None = "10.0.0.1") -> pools.AddressDetails:
    return pools.AddressDetails("10.0.0.10", prefix, gateway, ("8.8.8.8",))


def test_a_metal3_ipaddress_has_upstreams_shape() -> None:
    pool = bodies.pool_record(pool_body())
    claim = bodies.claim_record(resources.METAL3, metal3_claim(labels={"a": "b"}))
    body = bodies.address_body(pool, claim, details(), "pool1-prov-10-0-0-10")
    assert body == {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPAddress",
        "metadata": {
            "name": "pool1-prov-10-0-0-10",
            "namespace": "ns",
            "labels": {"a": "b"},
            "finalizers": ["ipaddress.ipam.metal3.io"],
            "ownerReferences": [
                {
                    "apiVersion": "ipam.metal3.io/v1alpha1",
                    "kind": "IPPool",
                    "name": "pool1",
                    "uid": "pool-uid",
                },
                {
                    "apiVersion": "ipam.metal3.io/v1alpha1",
                    "kind": "IPClaim",
                    "name": "claim1",
                    "uid": "claim-uid",
                },
            ],
        },
        "spec": {
            "address": "10.0.0.10",
            "pool": {"name": "pool1", "namespace": "ns"},
            "claim": {"name": "claim1", "namespace": "ns"},
            "prefix": 24,
            "gateway": "10.0.0.1",
            "dnsServers": ["8.8.8.8"],
        },
    }


def test_a_capi_ipaddress_has_upstreams_shape_without_dns() -> None:
    pool = bodies.pool_record(pool_body())
    claim = bodies.claim_record(resources.CAPI, capi_claim())
    body = bodies.address_body(pool, claim, details(prefix=0, gateway=None), "pool1-prov-10-0-0-10")
    assert body["apiVersion"] == "ipam.cluster.x-k8s.io/v1beta2"
    assert body["metadata"]["finalizers"] == ["ipam.metal3.io/ipaddress"]
    assert "labels" not in body["metadata"]
    assert body["metadata"]["ownerReferences"][1] == {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "name": "claim2",
        "uid": "capi-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert body["metadata"]["ownerReferences"][0]["controller"] is False
    assert body["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    assert body["spec"] == {
        "address": "10.0.0.10",
        "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "pool1"},
        "claimRef": {"name": "claim2"},
        "prefix": 0,
    }


def test_metal3_owner_references_never_claim_control_as_upstream_writes_them() -> None:
    pool = bodies.pool_record(pool_body())
    claim = bodies.claim_record(resources.METAL3, metal3_claim())
    body = bodies.address_body(pool, claim, details(), "n")
    for ref in body["metadata"]["ownerReferences"]:
        assert "controller" not in ref
        assert "blockOwnerDeletion" not in ref


def test_a_metal3_ipaddress_omits_a_zero_prefix_as_upstream_does() -> None:
    pool = bodies.pool_record(pool_body())
    claim = bodies.claim_record(resources.METAL3, metal3_claim())
    body = bodies.address_body(pool, claim, details(prefix=0, gateway=None), "n")
    assert "prefix" not in body["spec"]
    assert "gateway" not in body["spec"]


def test_a_cluster_is_paused_by_its_spec_or_by_the_annotation_as_the_contract_says() -> None:
    paused = bodies.cluster_record({"metadata": {"name": "c"}, "spec": {"paused": True}})
    annotated = bodies.cluster_record(
        {"metadata": {"name": "c", "annotations": {"cluster.x-k8s.io/paused": ""}}, "spec": {}}
    )
    running = bodies.cluster_record({"metadata": {"name": "c"}, "spec": {"paused": False}})
    assert paused.paused
    assert annotated.paused
    assert not running.paused


@pytest.mark.parametrize(
    ("version", "than", "older"),
    [
        pytest.param("5", "7", True, id="smaller"),
        pytest.param("7", "7", False, id="equal"),
        pytest.param("9", "7", False, id="larger"),
        pytest.param("5", None, False, id="nothing-to-compare"),
        pytest.param("abc", "7", False, id="opaque"),
    ],
)
def test_resource_versions_compare_as_numbers_or_not_at_all(
    version: str, than: str | None, older: bool
) -> None:
    assert bodies.older(version, than) is older


def test_a_kept_claim_body_comes_back_as_it_arrived() -> None:
    body = metal3_claim(finalizers=["ipclaim.ipam.metal3.io"], labels={"a": "b"})
    body["status"] = {"address": {"name": "pool1-prov-10-0-0-10"}}
    kept = bodies.Kept.of(body)
    assert isinstance(kept.data, bytes)
    assert kept.body() == body
    assert kept.reported_bound
    assert not bodies.Kept.of(metal3_claim()).reported_bound


def test_a_body_orjson_cannot_write_is_kept_parsed() -> None:
    body = metal3_claim()
    body["spec"]["huge"] = 2**70  # valid JSON; orjson writes integers of 64 bits at most
    kept = bodies.Kept.of(body)
    assert kept.body() == body


def test_a_kept_body_takes_the_room_of_its_text_not_of_orjsons_buffer() -> None:
    body = metal3_claim()
    text = len(bodies.Kept.of(body).data)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [bodies.Kept.of(body) for _ in range(200)]
        per_body = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_body < text + 200  # the text, its bytes header and the record; not 4 KiB
