"""Normalisation keeps what a client sees and drops what differs by nature between two runs."""

from __future__ import annotations

from typing import Any

from e2e.conformance import observe
from e2e.conformance.kinds import Ref

NS = "cf-x-up-1a2b"


def test_normalise_drops_identity_and_time_and_renames_the_namespace() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPAddress",
        "metadata": {
            "name": "p-10-0-0-1",
            "namespace": NS,
            "uid": "u",
            "resourceVersion": "7",
            "generation": 1,
            "creationTimestamp": "t",
            "deletionTimestamp": "t2",
            "managedFields": [{}],
            "finalizers": ["ipaddress.ipam.metal3.io"],
            "ownerReferences": [{"kind": "IPPool", "name": "p", "uid": "u1", "apiVersion": "v"}],
        },
        "spec": {"claim": {"name": "c", "namespace": NS}},
        "status": {
            "lastUpdated": "t3",
            "conditions": [{"lastTransitionTime": "t4", "type": "Ready"}],
        },
    }
    assert observe.normalise(obj, NS) == {
        "metadata": {
            "name": "p-10-0-0-1",
            "generation": 1,
            "deletionTimestamp": "<set>",
            "finalizers": ["ipaddress.ipam.metal3.io"],
            "ownerReferences": [{"kind": "IPPool", "name": "p", "apiVersion": "v"}],
        },
        "spec": {"claim": {"name": "c", "namespace": "<namespace>"}},
        "status": {
            "lastUpdated": "<set>",
            "conditions": [{"lastTransitionTime": "<set>", "type": "Ready"}],
        },
    }


def test_events_fold_by_object_and_reason() -> None:
    def event(name: str, reason: str, message: str) -> dict[str, Any]:
        involved = {"apiVersion": "ipam.metal3.io/v1alpha1", "kind": "IPClaim", "name": name}
        return {"involvedObject": involved, "reason": reason, "type": "Normal", "message": message}

    folded = observe.fold_events(
        [
            event("a", "Allocated", f"b in {NS}"),
            event("a", "Allocated", "a"),
            event("a", "Allocated", "a"),
        ],
        NS,
    )
    assert folded == {
        "Event/IPClaim/a/Allocated": {"type": "Normal", "messages": ["a", "b in <namespace>"]}
    }


def test_bound_needs_the_named_address_object_to_exist() -> None:
    claim = {"metadata": {}, "status": {"address": {"name": "p-1"}}}
    ref = Ref.parse("IPClaim/a")
    assert not observe.holds("bound", {"IPClaim/a": claim}, ref)
    assert observe.holds("bound", {"IPClaim/a": claim, "IPAddress/p-1": {}}, ref)
    assert observe.holds("settled", {"IPClaim/a": claim, "IPAddress/p-1": {}}, ref)


def test_failed_reads_the_error_message_or_a_false_ready_condition() -> None:
    metal3 = {"metadata": {}, "status": {"errorMessage": "Exhausted IP Pools"}}
    capi = {"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert observe.holds("failed", {"IPClaim/a": metal3}, Ref.parse("IPClaim/a"))
    assert observe.holds("settled", {"IPAddressClaim/k": capi}, Ref.parse("IPAddressClaim/k"))
    assert not observe.holds("failed", {"IPClaim/a": {"metadata": {}}}, Ref.parse("IPClaim/a"))


def test_reconciled_deleting_gone() -> None:
    pool = {"metadata": {"finalizers": ["ippool.ipam.metal3.io"], "deletionTimestamp": "<set>"}}
    ref = Ref.parse("IPPool/p")
    assert observe.holds("reconciled", {"IPPool/p": pool}, ref)
    assert observe.holds("deleting", {"IPPool/p": pool}, ref)
    assert observe.holds("gone", {}, ref)
    assert not observe.holds("exists", {}, ref)


def test_pools_are_consistent_when_indexes_match_the_address_objects_of_both_kinds() -> None:
    objects = {
        "IPPool/p": {"metadata": {}, "status": {"indexes": {"a": "10.0.0.1", "k": "10.0.0.2"}}},
        "IPAddress/p-10-0-0-1": {
            "spec": {"address": "10.0.0.1", "pool": {"name": "p"}, "claim": {"name": "a"}}
        },
        "CAPIIPAddress/p-10-0-0-2": {
            "spec": {"address": "10.0.0.2", "poolRef": {"name": "p"}, "claimRef": {"name": "k"}}
        },
        "IPPool/empty": {"metadata": {}},
    }
    assert observe.inconsistent_pools(objects) == []
    del objects["CAPIIPAddress/p-10-0-0-2"]
    assert observe.inconsistent_pools(objects) == ["IPPool/p"]
