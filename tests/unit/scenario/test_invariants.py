"""The invariants and the allocation snapshot, on ledgers written as plain dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e.scenario import allocations, invariants
from e2e.scenario.allocations import Ledger

REPO = Path(__file__).resolve().parents[3]

POOL_SPEC = {"namePrefix": "p", "pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]}


def pool(name: str = "pool-a", spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": spec or POOL_SPEC}


def meta(name: str, finalizer: str | None) -> dict[str, Any]:
    return {"name": name, "finalizers": [finalizer]} if finalizer else {"name": name}


def metal3_claim(
    name: str, bound_to: str | None = None, finalizer: str | None = "ipclaim.ipam.metal3.io"
) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "metadata": meta(name, finalizer),
        "spec": {"pool": {"name": "pool-a"}},
    }
    if bound_to:
        claim["status"] = {"address": {"name": bound_to}}
    return claim


def metal3_address(
    name: str,
    ip: str,
    claim: str,
    pool_name: str = "pool-a",
    finalizer: str | None = "ipaddress.ipam.metal3.io",
) -> dict[str, Any]:
    return {
        "metadata": meta(name, finalizer),
        "spec": {"address": ip, "pool": {"name": pool_name}, "claim": {"name": claim}},
    }


def capi_claim(
    name: str, bound_to: str | None = None, finalizer: str | None = "ipam.metal3.io/ipaddressclaim"
) -> dict[str, Any]:
    claim: dict[str, Any] = {"metadata": meta(name, finalizer), "spec": {}}
    if bound_to:
        claim["status"] = {"addressRef": {"name": bound_to}}
    return claim


def capi_address(
    name: str,
    ip: str,
    claim: str,
    pool_ref: dict[str, str] | None = None,
    finalizer: str | None = "ipam.metal3.io/ipaddress",
) -> dict[str, Any]:
    ref = pool_ref or {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "pool-a"}
    return {
        "metadata": meta(name, finalizer),
        "spec": {"address": ip, "poolRef": ref, "claimRef": {"name": claim}, "prefix": 24},
    }


HEALTHY = Ledger(
    pools=[pool()],
    metal3_claims=[metal3_claim("m1", "p-10-0-0-10"), metal3_claim("m2")],
    metal3_addresses=[metal3_address("p-10-0-0-10", "10.0.0.10", "m1")],
    capi_claims=[capi_claim("c1", "p-10-0-0-11")],
    capi_addresses=[capi_address("p-10-0-0-11", "10.0.0.11", "c1")],
)


def test_a_healthy_ledger_passes_every_invariant() -> None:
    assert invariants.check(HEALTHY, invariants.CHECKS) == {}


def test_an_empty_namespace_passes_every_invariant() -> None:
    assert invariants.check(Ledger(), invariants.CHECKS) == {}


@pytest.mark.parametrize(
    ("ledger", "invariant", "problem"),
    [
        pytest.param(
            Ledger(
                metal3_claims=[metal3_claim("m1")],
                metal3_addresses=[metal3_address("p-a", "10.0.0.12", "m1")],
                capi_claims=[capi_claim("c1")],
                capi_addresses=[capi_address("p-b", "10.0.0.12", "c1")],
            ),
            "no-duplicate-addresses",
            "10.0.0.12 is held 2 times: IPAddress.ipam.metal3.io p-a, "
            "IPAddress.ipam.cluster.x-k8s.io p-b",
            id="one IP held by both kinds",
        ),
        pytest.param(
            Ledger(
                capi_claims=[capi_claim("c1"), capi_claim("c2")],
                capi_addresses=[
                    capi_address("x", "fd00::a", "c1"),
                    capi_address("y", "fd00:0:0:0:0:0:0:A", "c2"),
                ],
            ),
            "no-duplicate-addresses",
            "fd00::a is held 2 times",
            id="the same address in two spellings",
        ),
        pytest.param(
            Ledger(metal3_claims=[metal3_claim("m1", "p-gone")]),
            "bound-claims-have-addresses",
            "IPClaim m1 is bound to p-gone, which does not exist",
            id="bound to nothing",
        ),
        pytest.param(
            Ledger(
                capi_claims=[capi_claim("c1", "p-x"), capi_claim("c2")],
                capi_addresses=[capi_address("p-x", "10.0.0.12", "c2")],
            ),
            "bound-claims-have-addresses",
            "IPAddressClaim c1 is bound to p-x, whose spec.claimRef.name is 'c2'",
            id="bound to someone else's address",
        ),
        pytest.param(
            Ledger(metal3_addresses=[metal3_address("p-x", "10.0.0.12", "gone")]),
            "no-orphan-addresses",
            "IPAddress.ipam.metal3.io p-x: its IPClaim 'gone' does not exist",
            id="metal3 orphan",
        ),
        pytest.param(
            Ledger(
                metal3_claims=[metal3_claim("c1")],
                capi_addresses=[capi_address("p-x", "10.0.0.12", "c1")],
            ),
            "no-orphan-addresses",
            "IPAddress.ipam.cluster.x-k8s.io p-x: its IPAddressClaim 'c1' does not exist",
            id="a claim of the other kind does not count",
        ),
        pytest.param(
            Ledger(
                pools=[pool()],
                metal3_claims=[metal3_claim("m1")],
                metal3_addresses=[metal3_address("p-x", "10.0.0.99", "m1")],
            ),
            "addresses-inside-pools",
            "IPAddress.ipam.metal3.io p-x: 10.0.0.99 is outside IPPool pool-a",
            id="outside the ranges",
        ),
        pytest.param(
            Ledger(
                capi_claims=[capi_claim("c1")],
                capi_addresses=[capi_address("p-x", "10.0.0.12", "c1")],
            ),
            "addresses-inside-pools",
            "IPAddress.ipam.cluster.x-k8s.io p-x (10.0.0.12): its IPPool 'pool-a' does not exist",
            id="pool gone",
        ),
        pytest.param(
            Ledger(
                metal3_claims=[metal3_claim("m1", "p-x")],
                metal3_addresses=[metal3_address("p-x", "10.0.0.12", "m1", finalizer=None)],
            ),
            "allocations-carry-finalizers",
            "IPAddress.ipam.metal3.io p-x lacks the finalizer ipaddress.ipam.metal3.io",
            id="a metal3 address without its finalizer",
        ),
        pytest.param(
            Ledger(
                capi_claims=[capi_claim("c1", "p-x")],
                capi_addresses=[capi_address("p-x", "10.0.0.12", "c1", finalizer="other.io/x")],
            ),
            "allocations-carry-finalizers",
            "IPAddress.ipam.cluster.x-k8s.io p-x lacks the finalizer ipam.metal3.io/ipaddress",
            id="a capi address with only someone else's finalizer",
        ),
        pytest.param(
            Ledger(
                metal3_claims=[metal3_claim("m1", finalizer=None)],
                metal3_addresses=[metal3_address("p-x", "10.0.0.12", "m1")],
            ),
            "allocations-carry-finalizers",
            "IPClaim m1 (it holds an address) lacks the finalizer ipclaim.ipam.metal3.io",
            id="a metal3 claim holding an address, status not yet written, no finalizer",
        ),
        pytest.param(
            Ledger(
                capi_claims=[capi_claim("c1", "p-x", finalizer="ipclaim.ipam.metal3.io")],
                capi_addresses=[capi_address("p-x", "10.0.0.12", "c1")],
            ),
            "allocations-carry-finalizers",
            "IPAddressClaim c1 (it holds an address) lacks the finalizer "
            "ipam.metal3.io/ipaddressclaim",
            id="a capi claim with the metal3 claim finalizer instead of its own",
        ),
    ],
)
def test_each_invariant_reports_what_breaks_it(
    ledger: Ledger, invariant: str, problem: str
) -> None:
    failed = invariants.check(ledger, invariants.CHECKS)

    assert invariant in failed
    assert any(problem in line for line in failed[invariant]), failed[invariant]


def test_addresses_of_another_providers_pool_are_not_checked_against_ours() -> None:
    other = {"apiGroup": "ipam.cluster.x-k8s.io", "kind": "InClusterIPPool", "name": "pool-a"}
    ledger = Ledger(
        capi_claims=[capi_claim("c1")],
        capi_addresses=[capi_address("x", "172.16.0.1", "c1", pool_ref=other)],
    )

    assert invariants.check(ledger, ["addresses-inside-pools"]) == {}


def test_claims_that_hold_nothing_and_other_providers_addresses_need_no_finalizer() -> None:
    other = {"apiGroup": "ipam.cluster.x-k8s.io", "kind": "InClusterIPPool", "name": "x"}
    ledger = Ledger(
        metal3_claims=[metal3_claim("waiting", finalizer=None)],
        capi_claims=[capi_claim("theirs", "x-1", finalizer=None)],
        capi_addresses=[
            capi_address("x-1", "172.16.0.1", "theirs", pool_ref=other, finalizer=None)
        ],
    )

    assert invariants.check(ledger, ["allocations-carry-finalizers"]) == {}


def test_the_checker_does_not_read_pools_or_addresses_with_the_controllers_code() -> None:
    source = (REPO / "e2e" / "scenario" / "invariants.py").read_text()
    source += (REPO / "e2e" / "scenario" / "pool_spec.py").read_text()

    assert "from ipam" not in source
    assert "import ipam" not in source


def test_only_the_named_invariants_run() -> None:
    orphan = Ledger(metal3_addresses=[metal3_address("p-x", "10.0.0.12", "gone")])

    assert invariants.check(orphan, ["no-duplicate-addresses"]) == {}


def test_a_snapshot_maps_claims_to_addresses_and_addresses_to_specs() -> None:
    taken = allocations.snapshot(HEALTHY)

    assert taken["claims"] == {
        "IPClaim/m1": "10.0.0.10",
        "IPClaim/m2": None,
        "IPAddressClaim/c1": "10.0.0.11",
    }
    assert set(taken["addresses"]) == {
        "IPAddress.ipam.metal3.io/p-10-0-0-10",
        "IPAddress.ipam.cluster.x-k8s.io/p-10-0-0-11",
    }
    assert taken["addresses"]["IPAddress.ipam.metal3.io/p-10-0-0-10"]["address"] == "10.0.0.10"


def test_a_dangling_binding_shows_in_the_snapshot() -> None:
    taken = allocations.snapshot(Ledger(capi_claims=[capi_claim("c1", "p-gone")]))

    assert taken["claims"] == {"IPAddressClaim/c1": "(bound to p-gone, which does not exist)"}


def test_two_empty_namespaces_have_equal_snapshots() -> None:
    assert allocations.snapshot(Ledger()) == allocations.snapshot(Ledger())
    assert allocations.snapshot(Ledger()) == {"claims": {}, "addresses": {}}


def test_claims_named_by_an_address_but_not_yet_told_are_in_flight() -> None:
    ledger = Ledger(
        metal3_claims=[metal3_claim("m1", "p-10-0-0-10"), metal3_claim("m2"), metal3_claim("m3")],
        metal3_addresses=[
            metal3_address("p-10-0-0-10", "10.0.0.10", "m1"),
            metal3_address("p-10-0-0-12", "10.0.0.12", "m2"),
        ],
        capi_claims=[capi_claim("c1"), capi_claim("m3")],
        capi_addresses=[capi_address("p-10-0-0-11", "10.0.0.11", "c1")],
    )

    assert allocations.in_flight(ledger) == [
        "IPClaim m2 is named by IPAddress p-10-0-0-12 but its status names no address",
        "IPAddressClaim c1 is named by IPAddress p-10-0-0-11 but its status names no address",
    ]
    assert allocations.in_flight(HEALTHY) == []
