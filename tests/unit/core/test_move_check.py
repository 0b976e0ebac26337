"""Each way clusterctl move would lose something is found, and a clean namespace has no finding."""

from __future__ import annotations

from ipam.core import move_check as mc
from ipam.core import move_graph as mg

LABELS = {mg.DISCOVERY_LABEL: ""}
KINDS = [
    k
    for k in (
        mg.listed_kind("cluster.x-k8s.io", "Cluster", LABELS),
        mg.listed_kind("ipam.metal3.io", "IPPool", {**LABELS, mg.MOVE_HIERARCHY_LABEL: ""}),
        mg.listed_kind("ipam.metal3.io", "IPClaim", {**LABELS, mg.MOVE_LABEL: ""}),
        mg.listed_kind("ipam.metal3.io", "IPAddress", {**LABELS, mg.MOVE_LABEL: ""}),
        mg.listed_kind("ipam.cluster.x-k8s.io", "IPAddressClaim", LABELS),
        mg.listed_kind("ipam.cluster.x-k8s.io", "IPAddress", LABELS),
    )
    if k is not None
]


def obj(group: str, kind: str, name: str, namespace: str = "ns") -> mc.Object:
    return mc.Object(group, kind, namespace, name, f"uid-{kind}-{name}")


POOL = obj("ipam.metal3.io", "IPPool", "p")


def metal3_claim(name: str, *finalizers: str) -> mc.Claim:
    return mc.Claim(
        obj("ipam.metal3.io", "IPClaim", name),
        "metal3",
        "p",
        True,
        finalizers or ("ipclaim.ipam.metal3.io",),
        "ipclaim.ipam.metal3.io",
    )


def metal3_address(claim: str, ip: str, pool: str = "p") -> mc.Address:
    name = f"p-{ip.replace('.', '-')}"
    return mc.Address(obj("ipam.metal3.io", "IPAddress", name), "metal3", pool, claim, ip)


def nodes_of(
    *objects: mc.Object, owners: dict[str, list[mc.Object]] | None = None
) -> list[mg.Node]:
    owners = owners or {}
    return [
        mg.Node(
            o.group,
            o.kind,
            o.namespace,
            o.name,
            o.uid,
            {},
            tuple(mg.Owner(w.group, w.kind, w.name, w.uid) for w in owners.get(o.uid, [])),
        )
        for o in objects
    ]


def run(
    claims: list[mc.Claim], held: list[mc.Address], pools: list[mc.Object] | None = None
) -> list[mc.Finding]:
    pools = [POOL] if pools is None else pools
    graph = mg.Graph(
        KINDS, nodes_of(*pools, *(c.object for c in claims), *(a.object for a in held))
    )
    return mc.check(pools, claims, held, graph)


def test_a_clean_namespace_has_no_finding() -> None:
    claims = [metal3_claim("a"), metal3_claim("b")]
    held = [metal3_address("a", "10.0.0.1"), metal3_address("b", "10.0.0.2")]
    assert run(claims, held) == []


def test_an_address_whose_claim_is_gone_is_orphaned() -> None:
    findings = run([], [metal3_address("gone", "10.0.0.1")])
    assert [(f.code, f.object.name) for f in findings] == [(mc.ORPHANED, "p-10-0-0-1")]
    assert "IPClaim gone no longer exists: 10.0.0.1 is leaked" in findings[0].message


def test_an_address_whose_pool_is_gone_is_orphaned() -> None:
    findings = run([metal3_claim("a")], [metal3_address("a", "10.0.0.1", pool="old")])
    assert [(f.code, f.message) for f in findings] == [
        (mc.ORPHANED, "its IPPool old no longer exists")
    ]


def test_one_address_held_by_two_claims_is_a_duplicate_on_both_objects() -> None:
    claims = [metal3_claim("a"), metal3_claim("b")]
    one = metal3_address("a", "10.0.0.1")
    two = mc.Address(
        obj("ipam.metal3.io", "IPAddress", "q-10-0-0-1"), "metal3", "p", "b", "10.0.0.1"
    )
    findings = run(claims, [one, two])
    assert {(f.code, f.object.name) for f in findings} == {
        (mc.DUPLICATE, "p-10-0-0-1"),
        (mc.DUPLICATE, "q-10-0-0-1"),
    }
    assert "10.0.0.1 is also held by IPClaim b (pool p, q-10-0-0-1)" in findings[0].message


def test_a_duplicate_is_found_by_value_not_by_spelling() -> None:
    claims = [metal3_claim("a"), metal3_claim("b")]
    one = metal3_address("a", "fd00::1")
    two = mc.Address(obj("ipam.metal3.io", "IPAddress", "x"), "metal3", "p", "b", "fd00:0::0:1")
    assert {f.code for f in run(claims, [one, two])} == {mc.DUPLICATE}


def test_the_same_address_in_two_namespaces_is_no_duplicate() -> None:
    claims = [
        metal3_claim("a"),
        mc.Claim(obj("ipam.metal3.io", "IPClaim", "a", "other"), "metal3", "p", True, (), ""),
    ]
    other_pool = obj("ipam.metal3.io", "IPPool", "p", "other")
    two = mc.Address(
        obj("ipam.metal3.io", "IPAddress", "x", "other"), "metal3", "p", "a", "10.0.0.1"
    )
    assert run(claims, [metal3_address("a", "10.0.0.1"), two], pools=[POOL, other_pool]) == []


def test_a_claim_holding_two_addresses_is_reported_on_each() -> None:
    findings = run(
        [metal3_claim("a")], [metal3_address("a", "10.0.0.1"), metal3_address("a", "10.0.0.2")]
    )
    assert [(f.code, f.object.name) for f in findings] == [
        (mc.SEVERAL, "p-10-0-0-1"),
        (mc.SEVERAL, "p-10-0-0-2"),
    ]
    assert findings[0].message == "IPClaim a also holds 10.0.0.2 (p-10-0-0-2)"


def test_another_providers_finalizer_on_our_claim_is_reported_but_kubernetes_own_are_not() -> None:
    claims = [
        metal3_claim("a", "ipclaim.ipam.metal3.io", "example.com/other"),
        metal3_claim("b", "ipclaim.ipam.metal3.io", "foregroundDeletion"),
    ]
    findings = run(claims, [])
    assert [(f.code, f.object.name) for f in findings] == [(mc.FOREIGN_FINALIZER, "a")]
    assert "example.com/other" in findings[0].message


def test_a_claim_of_another_provider_is_not_ours_to_judge() -> None:
    theirs = mc.Claim(
        obj("ipam.cluster.x-k8s.io", "IPAddressClaim", "t"), "capi", "", False, ("x/y",), "z"
    )
    assert run([theirs], []) == []


def test_an_object_clusterctl_would_not_move_stays_behind_with_the_reason() -> None:
    lonely = mc.Claim(
        obj("ipam.cluster.x-k8s.io", "IPAddressClaim", "lonely"),
        "capi",
        "p",
        True,
        ("ipam.metal3.io/ipaddressclaim",),
        "ipam.metal3.io/ipaddressclaim",
    )
    address = mc.Address(
        obj("ipam.cluster.x-k8s.io", "IPAddress", "p-10-0-0-1"), "capi", "p", "lonely", "10.0.0.1"
    )
    graph = mg.Graph(
        KINDS,
        nodes_of(
            POOL, lonely.object, address.object, owners={address.object.uid: [POOL, lonely.object]}
        ),
    )
    findings = mc.check([POOL], [lonely], [address], graph)
    assert [(f.code, f.cause, f.object.ref) for f in findings] == [
        (mc.STAYS_BEHIND, mg.NOT_COVERED, "ipaddressclaim.ipam.cluster.x-k8s.io/lonely"),
        (mc.STAYS_BEHIND, mg.OWNER_STAYS, "ipaddress.ipam.cluster.x-k8s.io/p-10-0-0-1"),
    ]


def test_a_pool_with_neither_a_cluster_owner_nor_a_move_label_stays_behind() -> None:
    kinds = [k for k in KINDS if k.kind != "IPPool"] + [
        mg.Kind("ipam.metal3.io", "IPPool", False, False)
    ]
    graph = mg.Graph(kinds, nodes_of(POOL))
    findings = mc.check([POOL], [], [], graph)
    assert [(f.code, f.cause) for f in findings] == [(mc.STAYS_BEHIND, mg.NOT_COVERED)]
    assert mc.summary(findings)[mc.STAYS_BEHIND] == 1
    assert set(mc.summary(findings)) == set(mc.CODES)


def test_a_remedy_is_given_where_one_command_fixes_the_problem() -> None:
    orphan = run([], [metal3_address("gone", "10.0.0.1")])
    assert orphan[0].remedy == "kubectl delete -n ns ipaddress.ipam.metal3.io/p-10-0-0-1"
    kinds = [k for k in KINDS if k.kind != "IPPool"] + [
        mg.Kind("ipam.metal3.io", "IPPool", False, False)
    ]
    uncovered = mc.check([POOL], [], [], mg.Graph(kinds, nodes_of(POOL)))
    assert uncovered[0].remedy == (
        "kubectl label -n ns ippool.ipam.metal3.io/p clusterctl.cluster.x-k8s.io/move="
    )


def test_findings_list_pools_then_claims_then_addresses_whatever_their_names() -> None:
    kinds = [mg.Kind(k.group, k.kind, False, False) for k in KINDS]
    pool = obj("ipam.metal3.io", "IPPool", "zz")
    claim = metal3_claim("mm")
    address = mc.Address(
        obj("ipam.metal3.io", "IPAddress", "aa-10-0-0-1"), "metal3", "zz", "mm", "10.0.0.1"
    )
    graph = mg.Graph(kinds, nodes_of(pool, claim.object, address.object))
    findings = mc.check([pool], [claim], [address], graph)
    assert [(f.code, f.object.kind) for f in findings] == [
        (mc.STAYS_BEHIND, "IPPool"),
        (mc.STAYS_BEHIND, "IPClaim"),
        (mc.STAYS_BEHIND, "IPAddress"),
    ]


def test_an_object_left_behind_by_its_owner_has_the_graphs_detail_and_no_one_line_remedy() -> None:
    kinds = [k for k in KINDS if k.kind != "IPPool"] + [
        mg.Kind("ipam.metal3.io", "IPPool", False, False)
    ]
    claim = metal3_claim("a")
    address = metal3_address("a", "10.0.0.1")
    graph = mg.Graph(
        kinds, nodes_of(POOL, claim.object, address.object, owners={address.object.uid: [POOL]})
    )
    findings = [
        f for f in mc.check([POOL], [claim], [address], graph) if f.object == address.object
    ]
    verdict = graph.verdict(address.object.uid)
    assert [(f.code, f.cause, f.message, f.remedy) for f in findings] == [
        (mc.STAYS_BEHIND, mg.OWNER_STAYS, verdict.detail, "")
    ]
    assert verdict.detail


def test_every_group_is_judged_after_one_that_is_clean() -> None:
    claims = [metal3_claim(n) for n in ("a", "b", "c", "d")]
    held = [
        metal3_address("a", "10.0.0.1"),
        metal3_address("b", "10.0.0.2"),
        mc.Address(obj("ipam.metal3.io", "IPAddress", "x-2"), "metal3", "p", "c", "10.0.0.2"),
        mc.Address(obj("ipam.metal3.io", "IPAddress", "y-2"), "metal3", "p", "d", "10.0.0.2"),
        metal3_address("d", "10.0.0.3"),
    ]
    findings = run(claims, held)
    duplicates = {f.object.name: f.message for f in findings if f.code == mc.DUPLICATE}
    assert duplicates["p-10-0-0-2"] == (
        "10.0.0.2 is also held by IPClaim c (pool p, x-2), IPClaim d (pool p, y-2)"
    )
    assert set(duplicates) == {"p-10-0-0-2", "x-2", "y-2"}
    several = {f.object.name: f.message for f in findings if f.code == mc.SEVERAL}
    assert several == {
        "y-2": "IPClaim d also holds 10.0.0.3 (p-10-0-0-3)",
        "p-10-0-0-3": "IPClaim d also holds 10.0.0.2 (y-2)",
    }


def test_a_claim_holding_three_addresses_names_the_other_two() -> None:
    held = [metal3_address("a", f"10.0.0.{i}") for i in (1, 2, 3)]
    findings = run([metal3_claim("a")], held)
    assert (
        findings[0].message == "IPClaim a also holds 10.0.0.2 (p-10-0-0-2), 10.0.0.3 (p-10-0-0-3)"
    )


def test_foreign_finalizers_are_named_in_full_after_a_claim_that_is_not_ours() -> None:
    theirs = mc.Claim(
        obj("ipam.cluster.x-k8s.io", "IPAddressClaim", "t"), "capi", "", False, ("x/y",), "z"
    )
    ours = metal3_claim("a", "ipclaim.ipam.metal3.io", "example.com/one", "example.com/two")
    findings = run([theirs, ours], [])
    assert [(f.code, f.object.name, f.message) for f in findings] == [
        (
            mc.FOREIGN_FINALIZER,
            "a",
            "finalizer example.com/one, example.com/two is not this provider's: clusterctl "
            "copies it, and only its own controller can remove it on the target",
        )
    ]
