"""Pool conditions: Ready says whether addresses can be handed out; conflicts show only while true."""

from __future__ import annotations

from typing import Any

from ipam.core import status
from ipam.handlers import pool_status, state
from ipam.kube import bodies, resources


def pool_body(name: str, prefix: str, *entries: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid", "generation": 1},
        "spec": {"namePrefix": prefix, "pools": list(entries), **spec},
    }


def conditions(registry: state.Registry, name: str) -> dict[str, dict[str, Any]]:
    pool_state = registry.pool("ns", name)
    record = pool_state.record
    assert record is not None
    wanted = status.pool_status(record.pool, pool_state.book, {}, now="t", creation="t")
    found = pool_status.conditions_of(registry, pool_state, record, wanted, "t")
    return {c["type"]: c for c in found}


def test_a_healthy_pool_is_ready_and_shows_no_conflict() -> None:
    registry = state.Registry()
    registry.observe_pool(
        bodies.pool_record(pool_body("a", "a", {"start": "10.0.0.1", "end": "10.0.0.9"}))
    )
    found = conditions(registry, "a")
    assert list(found) == ["Ready"]
    assert found["Ready"]["status"] == "True"


def test_an_invalid_spec_makes_the_pool_not_ready_with_the_field_path() -> None:
    registry = state.Registry()
    registry.observe_pool(
        bodies.pool_record(pool_body("a", "a", {"start": "10.0.0.9", "end": "10.0.0.1"}))
    )
    ready = conditions(registry, "a")["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "spec.pools[0]" in ready["message"]


def test_two_pools_with_one_name_prefix_both_report_the_collision() -> None:
    registry = state.Registry()
    registry.observe_pool(
        bodies.pool_record(pool_body("a", "same", {"start": "10.0.0.1", "end": "10.0.0.9"}))
    )
    registry.observe_pool(
        bodies.pool_record(pool_body("b", "same", {"start": "10.0.1.1", "end": "10.0.1.9"}))
    )
    assert "b" in conditions(registry, "a")["PrefixCollision"]["message"]
    assert "a" in conditions(registry, "b")["PrefixCollision"]["message"]
    assert "Overlap" not in conditions(registry, "a")


def test_overlapping_pools_report_each_other() -> None:
    registry = state.Registry()
    registry.observe_pool(bodies.pool_record(pool_body("a", "a", {"subnet": "10.0.0.0/24"})))
    registry.observe_pool(
        bodies.pool_record(pool_body("b", "b", {"start": "10.0.0.200", "end": "10.0.0.210"}))
    )
    overlap = conditions(registry, "a")["Overlap"]
    assert overlap["status"] == "True"
    assert "b" in overlap["message"]


def test_one_address_held_by_two_claims_is_reported_as_a_duplicate() -> None:
    registry = state.Registry()
    registry.observe_pool(bodies.pool_record(pool_body("a", "a", {"subnet": "10.0.0.0/24"})))
    for kind, claim in (("metal3", "x"), ("capi", "y")):
        spec = (
            {"address": "10.0.0.5", "pool": {"name": "a"}, "claim": {"name": claim}}
            if kind == "metal3"
            else {
                "address": "10.0.0.5",
                "poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "a"},
                "claimRef": {"name": claim},
            }
        )
        registry.observe_address(
            bodies.address_record(
                resources.METAL3 if kind == "metal3" else resources.CAPI,
                {"metadata": {"name": "a-10-0-0-5", "namespace": "ns", "uid": kind}, "spec": spec},
            )
        )
    duplicate = conditions(registry, "a")["DuplicateAddress"]
    assert "10.0.0.5" in duplicate["message"]


def test_a_pool_without_free_addresses_is_not_ready_because_exhausted() -> None:
    registry = state.Registry()
    registry.observe_pool(
        bodies.pool_record(
            pool_body(
                "a", "a", {"start": "10.0.0.1", "end": "10.0.0.1"}, preAllocations={"c": "10.0.0.1"}
            )
        )
    )
    ready = conditions(registry, "a")["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "PoolExhausted")
