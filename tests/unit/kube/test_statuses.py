"""Claim and pool statuses as merge patches: the right fields, and nothing at all when nothing changed."""

from __future__ import annotations

from typing import Any

from ipam.kube import bodies, resources, statuses


def metal3(status: dict[str, Any] | None = None) -> bodies.ClaimRecord:
    body = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"pool": {"name": "p"}}}
    if status is not None:
        body["status"] = status
    return bodies.claim_record(resources.METAL3, body)


def capi(status: dict[str, Any] | None = None, generation: int = 1) -> bodies.ClaimRecord:
    body: dict[str, Any] = {
        "metadata": {"name": "c", "namespace": "ns", "generation": generation},
        "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "p"}},
    }
    if status is not None:
        body["status"] = status
    return bodies.claim_record(resources.CAPI, body)


def test_binding_a_metal3_claim_sets_the_address_clears_the_error_and_is_ready() -> None:
    patch = statuses.claim_bound(metal3({"errorMessage": "Exhausted IP Pools"}), "p-10-0-0-1", "ns")
    assert patch["address"] == {"name": "p-10-0-0-1", "namespace": "ns"}
    assert patch["errorMessage"] is None
    [ready] = patch["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Allocated")


def test_binding_an_already_bound_metal3_claim_writes_nothing() -> None:
    first = statuses.claim_bound(metal3(), "p-10-0-0-1", "ns")
    claim = metal3({"address": first["address"], "conditions": first["conditions"]})
    assert statuses.claim_bound(claim, "p-10-0-0-1", "ns") == {}


def test_a_waiting_claim_says_why_without_an_error_message() -> None:
    patch = statuses.claim_waiting(metal3(), "PoolNotReady", "IPPool p does not exist")
    assert "errorMessage" not in patch
    [ready] = patch["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "PoolNotReady")


def test_capi_claims_carry_the_ready_condition_for_v1beta1_readers_too() -> None:
    patch = statuses.claim_waiting(capi(), "PoolNotReady", "IPPool p does not exist")
    [old] = patch["deprecated"]["v1beta1"]["conditions"]
    assert old["type"] == "Ready"
    assert old["status"] == "False"
    assert old["severity"] == "Warning"
    assert "observedGeneration" not in old
    bound = statuses.claim_bound(capi(), "p-10-0-0-1", "ns")
    [ready] = bound["deprecated"]["v1beta1"]["conditions"]
    assert ready["status"] == "True"
    assert "severity" not in ready


def test_binding_a_capi_claim_sets_address_ref_and_a_ready_condition_with_a_reason() -> None:
    patch = statuses.claim_bound(capi(), "p-10-0-0-1", "ns")
    assert patch["addressRef"] == {"name": "p-10-0-0-1"}
    [ready] = patch["conditions"]
    assert ready["type"] == "Ready"
    assert ready["status"] == "True"
    assert ready["reason"] == "Allocated"
    assert ready["lastTransitionTime"]


def test_binding_a_bound_and_ready_capi_claim_writes_nothing() -> None:
    first = statuses.claim_bound(capi(), "p-10-0-0-1", "ns")
    again = capi({"addressRef": first["addressRef"], "conditions": first["conditions"]})
    assert statuses.claim_bound(again, "p-10-0-0-1", "ns") == {}


def test_a_failed_capi_claim_gets_ready_false_with_the_errors_reason() -> None:
    patch = statuses.claim_failed(capi(), "Exhausted IP Pools", "PoolExhausted")
    [ready] = patch["conditions"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "PoolExhausted",
        "Exhausted IP Pools",
    )
    assert "addressRef" not in patch


def test_the_same_failure_twice_writes_nothing_the_second_time() -> None:
    once = statuses.claim_failed(metal3(), "x", "AllocationFailed")
    assert once["errorMessage"] == "x"
    twice = metal3({"errorMessage": "x", "conditions": once["conditions"]})
    assert statuses.claim_failed(twice, "x", "AllocationFailed") == {}
    first = statuses.claim_failed(capi(), "x", "AllocationFailed")
    assert (
        statuses.claim_failed(capi({"conditions": first["conditions"]}), "x", "AllocationFailed")
        == {}
    )


def test_conditions_of_other_types_are_kept_and_an_unchanged_status_keeps_its_time() -> None:
    existing = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "A",
            "message": "",
            "lastTransitionTime": "t0",
        },
        {
            "type": "Other",
            "status": "False",
            "reason": "B",
            "message": "",
            "lastTransitionTime": "t0",
        },
    ]
    wanted = [statuses.condition("Ready", True, "C", "m", generation=1, at="t1")]
    merged = statuses.merge_conditions(existing, wanted)
    assert [c["type"] for c in merged] == ["Ready", "Other"]
    assert merged[0]["lastTransitionTime"] == "t0"
    assert merged[0]["reason"] == "C"


def test_owned_conditions_that_are_no_longer_wanted_are_dropped() -> None:
    existing = [
        {
            "type": "Overlap",
            "status": "True",
            "reason": "O",
            "message": "",
            "lastTransitionTime": "t",
        }
    ]
    assert statuses.merge_conditions(existing, [], owned=["Overlap"]) == []


def test_a_pool_patch_nulls_index_entries_of_released_claims() -> None:
    current = {"indexes": {"a": "10.0.0.1", "b": "10.0.0.2"}, "total": 3}
    wanted = {"indexes": {"a": "10.0.0.1"}, "total": 3}
    patch = statuses.pool_patch(current, wanted, [], owned_conditions=[])
    assert patch == {"indexes": {"b": None, "a": "10.0.0.1"}}


def test_a_pool_patch_is_empty_when_the_status_is_already_right() -> None:
    ready = statuses.condition("Ready", True, "Available", "m", generation=1, at="t0")
    current = {"indexes": {"a": "10.0.0.1"}, "total": 3, "conditions": [ready]}
    again = statuses.condition("Ready", True, "Available", "m", generation=1, at="t1")
    patch = statuses.pool_patch(
        current, {"indexes": {"a": "10.0.0.1"}, "total": 3}, [again], owned_conditions=["Ready"]
    )
    assert patch == {}


def test_a_pool_that_holds_nothing_any_more_drops_its_indexes_as_upstream_does() -> None:
    wanted = {"indexes": {}, "used": 0}
    assert (
        statuses.pool_patch(
            {"indexes": {"a": "10.0.0.1"}, "used": 1}, wanted, [], owned_conditions=()
        )["indexes"]
        is None
    )
    assert "indexes" not in statuses.pool_patch({"used": 0}, wanted, [], owned_conditions=())


def test_a_deleted_claim_waiting_for_finalizers_says_so_and_keeps_its_ready_condition() -> None:
    bound = statuses.claim_bound(capi(), "p-10-0-0-1", "ns")
    claim = capi({"addressRef": bound["addressRef"], "conditions": bound["conditions"]})

    patch = statuses.claim_deleting(claim, "WaitingForFinalizers", "held by example.com/x")

    assert set(patch) == {"conditions"}, "no address, error or v1beta1 condition is rewritten"
    ready, deleting = patch["conditions"]
    assert ready == bound["conditions"][0]
    assert (deleting["type"], deleting["status"], deleting["reason"], deleting["message"]) == (
        "Deleting",
        "True",
        "WaitingForFinalizers",
        "held by example.com/x",
    )
    again = capi({"addressRef": bound["addressRef"], "conditions": patch["conditions"]})
    assert statuses.claim_deleting(again, "WaitingForFinalizers", "held by example.com/x") == {}
