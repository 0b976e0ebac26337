"""clusterctl's move rules, replayed: what is listed, what is covered, what waits for its owners."""

from __future__ import annotations

from ipam.core import move_graph as mg

CLUSTERCTL = {mg.DISCOVERY_LABEL: ""}
CAPI = "cluster.x-k8s.io"
METAL3 = "ipam.metal3.io"
CAPI_IPAM = "ipam.cluster.x-k8s.io"

CLUSTER = mg.listed_kind(CAPI, "Cluster", CLUSTERCTL)
POOL = mg.listed_kind(METAL3, "IPPool", {**CLUSTERCTL, mg.MOVE_HIERARCHY_LABEL: ""})
CLAIM = mg.listed_kind(METAL3, "IPClaim", {**CLUSTERCTL, mg.MOVE_LABEL: ""})
ADDRESS = mg.listed_kind(METAL3, "IPAddress", {**CLUSTERCTL, mg.MOVE_LABEL: ""})
CAPI_CLAIM = mg.listed_kind(CAPI_IPAM, "IPAddressClaim", CLUSTERCTL)
CAPI_ADDRESS = mg.listed_kind(CAPI_IPAM, "IPAddress", CLUSTERCTL)
KINDS = [k for k in (CLUSTER, POOL, CLAIM, ADDRESS, CAPI_CLAIM, CAPI_ADDRESS) if k is not None]


def node(
    group: str, kind: str, name: str, *owners: mg.Node, labels: dict[str, str] | None = None
) -> mg.Node:
    return mg.Node(
        group,
        kind,
        "ns",
        name,
        f"uid-{kind}-{name}",
        labels or {},
        tuple(mg.Owner(o.group, o.kind, o.name, o.uid) for o in owners),
    )


def test_a_crd_without_the_clusterctl_label_is_not_listed_and_labels_imply_move() -> None:
    hierarchy = {**CLUSTERCTL, mg.MOVE_HIERARCHY_LABEL: ""}
    assert mg.listed_kind(METAL3, "IPPool", {mg.MOVE_HIERARCHY_LABEL: ""}) is None
    found = {
        (METAL3, "IPPool"): mg.listed_kind(METAL3, "IPPool", hierarchy),
        (METAL3, "IPClaim"): mg.listed_kind(METAL3, "IPClaim", {**CLUSTERCTL, mg.MOVE_LABEL: ""}),
        (CAPI, "Cluster"): mg.listed_kind(CAPI, "Cluster", CLUSTERCTL),
        (CAPI_IPAM, "IPAddressClaim"): mg.listed_kind(CAPI_IPAM, "IPAddressClaim", CLUSTERCTL),
    }
    assert {key: (k.move, k.move_hierarchy) for key, k in found.items() if k} == {
        (METAL3, "IPPool"): (True, True),
        (METAL3, "IPClaim"): (True, False),
        (CAPI, "Cluster"): (True, True),
        (CAPI_IPAM, "IPAddressClaim"): (False, False),
    }


def test_objects_of_move_labelled_crds_move_without_any_owner() -> None:
    pool, claim = node(METAL3, "IPPool", "p"), node(METAL3, "IPClaim", "c")
    address = node(METAL3, "IPAddress", "a", pool, claim)
    graph = mg.Graph(KINDS, [pool, claim, address])
    assert all(graph.verdict(n.uid).moves for n in (pool, claim, address))


def test_an_unowned_cluster_api_claim_and_its_address_stay_behind() -> None:
    pool, claim = node(METAL3, "IPPool", "p"), node(CAPI_IPAM, "IPAddressClaim", "c")
    address = node(CAPI_IPAM, "IPAddress", "a", pool, claim)
    graph = mg.Graph(KINDS, [pool, claim, address])
    assert graph.verdict(claim.uid).cause == mg.NOT_COVERED
    verdict = graph.verdict(address.uid)
    assert (verdict.moves, verdict.cause) == (False, mg.OWNER_STAYS)
    assert "IPAddressClaim c stays behind" in verdict.detail


def test_a_cluster_owner_or_a_move_label_carries_a_cluster_api_claim() -> None:
    cluster, pool = node(CAPI, "Cluster", "wl"), node(METAL3, "IPPool", "p")
    owned = node(CAPI_IPAM, "IPAddressClaim", "owned", cluster)
    labelled = node(CAPI_IPAM, "IPAddressClaim", "labelled", labels={mg.MOVE_LABEL: ""})
    addresses = [node(CAPI_IPAM, "IPAddress", c.name, pool, c) for c in (owned, labelled)]
    graph = mg.Graph(KINDS, [cluster, pool, owned, labelled, *addresses])
    assert all(graph.verdict(n.uid).moves for n in (owned, labelled, *addresses))


def test_a_hierarchy_reaches_down_a_chain_of_unlabelled_kinds() -> None:
    kinds = [*KINDS, mg.Kind("infra", "Data", move=False, move_hierarchy=False)]
    cluster = node(CAPI, "Cluster", "wl")
    data = node("infra", "Data", "d", cluster)
    claim = node(CAPI_IPAM, "IPAddressClaim", "c", data)
    assert mg.Graph(kinds, [cluster, data, claim]).verdict(claim.uid).moves


def test_a_crd_without_the_clusterctl_label_leaves_its_objects_and_what_they_own_behind() -> None:
    kinds = [k for k in KINDS if k.kind != "IPClaim"]
    pool, claim = node(METAL3, "IPPool", "p"), node(METAL3, "IPClaim", "c")
    address = node(METAL3, "IPAddress", "a", pool, claim)
    graph = mg.Graph(kinds, [pool, claim, address])
    assert graph.verdict(claim.uid).cause == mg.NOT_LISTED
    assert "IPClaim.ipam.metal3.io" in graph.verdict(claim.uid).detail
    assert graph.verdict(address.uid).cause == mg.OWNER_NOT_LISTED
    assert graph.verdict(pool.uid).moves


def test_an_owner_that_is_gone_or_replaced_under_the_same_name_leaves_the_object_behind() -> None:
    ghost = node(CAPI, "Cluster", "wl")
    pool = node(METAL3, "IPPool", "p", ghost)
    verdict = mg.Graph(KINDS, [pool]).verdict(pool.uid)
    assert (verdict.moves, verdict.cause) == (False, mg.OWNER_MISSING)
    assert "Cluster wl (uid uid-Cluster-wl) does not exist" in verdict.detail


def test_an_owner_of_a_kind_nobody_lists_leaves_the_object_behind() -> None:
    claim = node(METAL3, "IPClaim", "c", node("example.com", "Thing", "t"))
    verdict = mg.Graph(KINDS, [claim]).verdict(claim.uid)
    assert (verdict.moves, verdict.cause) == (False, mg.OWNER_NOT_LISTED)


def test_one_owner_left_behind_is_enough_to_leave_an_object_behind() -> None:
    cluster = node(CAPI, "Cluster", "wl")
    pool = node(METAL3, "IPPool", "p", cluster)
    lonely = node(CAPI_IPAM, "IPAddressClaim", "lonely")
    address = node(CAPI_IPAM, "IPAddress", "a", pool, lonely)
    graph = mg.Graph(KINDS, [cluster, pool, lonely, address])
    assert graph.verdict(pool.uid).moves
    assert graph.verdict(address.uid).cause == mg.OWNER_STAYS


def test_an_ownership_cycle_is_never_placed() -> None:
    one = mg.Node(
        METAL3, "IPClaim", "ns", "one", "u1", {}, (mg.Owner(METAL3, "IPClaim", "two", "u2"),)
    )
    two = mg.Node(
        METAL3, "IPClaim", "ns", "two", "u2", {}, (mg.Owner(METAL3, "IPClaim", "one", "u1"),)
    )
    graph = mg.Graph(KINDS, [one, two])
    expected = mg.Verdict(False, mg.OWNER_CYCLE, "its ownerReferences form a cycle")
    assert graph.verdict("u1") == expected, "the line check-move prints says so"
    assert graph.verdict("u2") == expected
    assert graph.verdict("u1").moves is False


def test_a_hierarchy_label_on_the_object_itself_roots_a_hierarchy() -> None:
    root = node(CAPI_IPAM, "IPAddressClaim", "root", labels={mg.MOVE_HIERARCHY_LABEL: ""})
    child = node(CAPI_IPAM, "IPAddress", "child", root)
    graph = mg.Graph(KINDS, [root, child])
    assert graph.verdict(root.uid).moves
    assert graph.verdict(child.uid).moves


def test_the_group_of_an_api_version() -> None:
    assert mg.group_of("cluster.x-k8s.io/v1beta2") == CAPI
    assert mg.group_of("v1") == ""


def test_secrets_and_config_maps_are_always_listed_and_never_moved_by_kind() -> None:
    assert mg.always_listed() == [
        mg.Kind("", "Secret", move=False, move_hierarchy=False),
        mg.Kind("", "ConfigMap", move=False, move_hierarchy=False),
    ]


def test_an_owner_is_observed_only_when_known_and_of_a_listed_kind() -> None:
    cluster = node(CAPI, "Cluster", "c")
    machine = node(CAPI, "Machine", "m")
    graph = mg.Graph(KINDS, [cluster, machine])
    assert graph.observed(cluster.uid) == cluster
    assert graph.observed(machine.uid) is None, "Machine's CRD is not among the listed kinds"
    assert graph.observed("uid-unknown") is None


def test_a_listed_kind_keeps_its_group_and_kind_so_its_objects_are_seen() -> None:
    rule = mg.listed_kind(METAL3, "IPPool", CLUSTERCTL)
    assert rule is not None
    assert rule.key == (METAL3, "IPPool")
    pool = node(METAL3, "IPPool", "p")
    assert mg.Graph([rule], [pool]).observed(pool.uid) == pool


def test_an_object_of_an_unlisted_kind_does_not_move() -> None:
    kinds = [k for k in KINDS if k.kind != "IPClaim"]
    claim = node(METAL3, "IPClaim", "c")
    verdict = mg.Graph(kinds, [claim]).verdict(claim.uid)
    assert verdict.moves is False
    assert verdict.cause == mg.NOT_LISTED


def test_an_uncovered_object_is_told_which_label_would_move_it() -> None:
    # The README's `ipam check-move` example prints this line under such a claim.
    claim = node(CAPI_IPAM, "IPAddressClaim", "machine-1")
    verdict = mg.Graph(KINDS, [claim]).verdict(claim.uid)
    assert verdict == mg.Verdict(
        False,
        mg.NOT_COVERED,
        "no owner chain to a Cluster and no clusterctl.cluster.x-k8s.io/move label"
        " on it or its CRD",
    )


def test_an_owner_of_an_unlisted_kind_is_named_with_its_group() -> None:
    claim = node(METAL3, "IPClaim", "c", node("example.com", "Thing", "t"))
    detail = mg.Graph(KINDS, [claim]).verdict(claim.uid).detail
    assert detail.startswith("owner Thing t: ")
    assert "clusterctl does not list Thing.example.com " in detail
    assert mg.DISCOVERY_LABEL in detail


def test_an_owner_of_an_unlisted_core_kind_is_named_without_a_dot() -> None:
    # A core kind has the empty group: its name is the kind alone, as kubectl prints it.
    claim = node(METAL3, "IPClaim", "c", node("", "Pod", "p"))
    detail = mg.Graph(KINDS, [claim]).verdict(claim.uid).detail
    assert "clusterctl does not list Pod (" in detail
