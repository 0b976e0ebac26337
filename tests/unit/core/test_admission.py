"""Admission rules that need other objects: exact texts, every error at once, ratcheted edits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ipam.core import admission, errors

NS = "ns"


def spec(prefix: str = "p", *entries: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "namePrefix": prefix,
        "pools": list(entries) or [{"start": "10.0.0.1", "end": "10.0.0.20"}],
        **fields,
    }


def held(address: str, claim: str, pool: str = "p", kind: str = "metal3") -> admission.Held:
    prefix = pool
    return admission.Held(
        kind=kind,  # type: ignore[arg-type]
        object_name=f"{prefix}-{address.replace('.', '-')}",
        pool=pool,
        claim=claim,
        address=address,
    )


def claim(
    name: str = "c", ip: str | None = None, *, pool: str = "p", pool_namespace: str | None = None
) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": pool}
    if pool_namespace is not None:
        ref["namespace"] = pool_namespace
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if ip is not None:
        meta["annotations"] = {"ipAddress": ip}
    return {"metadata": meta, "spec": {"pool": ref}}


def capi_claim(name: str = "k", ip: str | None = None) -> dict[str, Any]:
    body = claim(name, ip)
    body["spec"] = {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": "p"}}
    return body


def texts(found: list[errors.FieldError]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in found]


# -- whether to review ------------------------------------------------------------------------


def test_creates_are_reviewed_and_deletes_never() -> None:
    assert admission.review_needed("CREATE", claim())
    assert not admission.review_needed("DELETE", None, claim())
    assert not admission.review_needed("CONNECT", claim())


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({"deletionTimestamp": "2026-01-01T00:00:00Z"}, id="being-deleted"),
        pytest.param(
            {"annotations": {"clusterctl.cluster.x-k8s.io/delete-for-move": ""}},
            id="delete-for-move",
        ),
    ],
)
def test_objects_on_their_way_out_always_pass(metadata: dict[str, Any]) -> None:
    bad = spec("")
    obj = {"metadata": {"name": "x", **metadata}, "spec": bad}
    old = {"metadata": {"name": "x"}, "spec": spec()}
    assert not admission.review_needed("UPDATE", obj, old)
    assert not admission.review_needed("CREATE", obj)


def test_updates_of_metadata_only_pass_and_spec_or_annotation_edits_are_reviewed() -> None:
    old = claim("c", "10.0.0.1")
    finalized = json.loads(json.dumps(old))
    finalized["metadata"]["finalizers"] = ["ipclaim.ipam.metal3.io"]
    finalized["metadata"]["labels"] = {"a": "b"}
    assert not admission.review_needed("UPDATE", finalized, old)
    assert admission.review_needed("UPDATE", claim("c", "10.0.0.2"), old)
    assert admission.review_needed("UPDATE", claim("c", "10.0.0.1", pool="q"), old)


# -- pools ------------------------------------------------------------------------------------


def test_a_pool_alone_in_its_namespace_passes() -> None:
    assert admission.pool_errors("p", spec(), others={}, held=[]) == []


def test_the_single_object_rules_are_kept() -> None:
    bad = spec("p", {"start": "10.0.0.9", "end": "10.0.0.1"})
    assert texts(admission.pool_errors("p", bad, others={}, held=[])) == [
        ("spec.pools[0].end", "end 10.0.0.1 is before start 10.0.0.9"),
    ]


def test_a_name_prefix_another_pool_uses_is_refused() -> None:
    found = admission.pool_errors("p", spec("shared"), others={"q": spec("shared")}, held=[])
    assert texts(found) == [
        (
            "spec.namePrefix",
            "'shared' is already the namePrefix of IPPool q: both pools would give their "
            "IPAddresses the same names",
        )
    ]


def test_a_name_prefix_that_can_name_another_pools_addresses_is_refused() -> None:
    found = admission.pool_errors("p", spec("a-1"), others={"q": spec("a")}, held=[])
    assert texts(found) == [
        (
            "spec.namePrefix",
            "'a-1' and the namePrefix 'a' of IPPool q can give two IPAddresses the same name",
        )
    ]


def test_prefixes_that_only_share_a_beginning_pass() -> None:
    assert admission.pool_errors("p", spec("nodes"), others={"q": spec("node")}, held=[]) == []
    assert admission.pool_errors("p", spec("a-x"), others={"q": spec("a")}, held=[]) == []


def test_a_pre_allocation_held_by_another_claim_is_refused_and_by_its_own_passes() -> None:
    pool = spec(preAllocations={"m-0": "10.0.0.5", "m-1": "10.0.0.6"})
    holdings = [
        held("10.0.0.5", "other", kind="capi"),
        held("10.0.0.6", "m-1"),
    ]
    assert texts(admission.pool_errors("p", pool, others={}, held=holdings)) == [
        (
            "spec.preAllocations[m-0]",
            "10.0.0.5 is held by IPAddressClaim other (IPAddress p-10-0-0-5)",
        )
    ]


def test_an_address_pre_allocated_by_another_pool_is_refused() -> None:
    mine = spec("p", {"subnet": "10.0.0.0/24"}, preAllocations={"a": "10.0.0.7"})
    theirs = spec("q", {"subnet": "10.0.0.0/24"}, preAllocations={"b": "10.0.0.7"})
    assert texts(admission.pool_errors("p", mine, others={"q": theirs}, held=[])) == [
        ("spec.preAllocations[a]", "10.0.0.7 is pre-allocated to claim b by IPPool q"),
    ]


def test_every_problem_is_reported_at_once() -> None:
    bad = spec(
        "shared",
        {"start": "10.0.0.9", "end": "10.0.0.1"},
        {"subnet": "10.0.1.0/24"},
        preAllocations={"a": "10.0.1.7", "b": "10.0.1.8"},
    )
    others = {"q": spec("shared", {"subnet": "10.0.1.0/24"}, preAllocations={"z": "10.0.1.8"})}
    found = admission.pool_errors("p", bad, others=others, held=[held("10.0.1.7", "x", "q")])
    assert [e.path for e in found] == [
        "spec.pools[0].end",
        "spec.namePrefix",
        "spec.preAllocations[a]",
        "spec.preAllocations[b]",
    ]


def test_an_edit_that_leaves_a_held_address_outside_the_ranges_is_refused() -> None:
    old = spec("p", {"start": "10.0.0.1", "end": "10.0.0.20"})
    new = spec("p", {"start": "10.0.0.1", "end": "10.0.0.9"})
    holdings = [held("10.0.0.12", "m-2"), held("10.0.0.3", "m-0"), held("10.0.0.15", "x", "q")]
    found = admission.pool_errors("p", new, old_spec=old, others={}, held=holdings)
    assert texts(found) == [
        (
            "spec.pools",
            "10.0.0.12 is held by IPClaim m-2 (IPAddress p-10-0-0-12) but is out of bounds "
            "of the pools given",
        )
    ]


def test_addresses_already_outside_before_the_edit_do_not_block_it() -> None:
    old = spec("p", {"start": "10.0.0.1", "end": "10.0.0.9"})
    new = spec("p", {"start": "10.0.0.1", "end": "10.0.0.9"}, gateway="10.0.0.254")
    found = admission.pool_errors("p", new, old_spec=old, others={}, held=[held("10.0.0.12", "m")])
    assert found == []


def test_problems_with_neighbours_the_old_spec_had_do_not_block_an_edit() -> None:
    old = spec("shared", preAllocations={"a": "10.0.0.5"})
    new = spec("shared", preAllocations={"a": "10.0.0.5"}, gateway="10.0.0.254")
    others = {"q": spec("shared")}
    holdings = [held("10.0.0.5", "x")]
    assert admission.pool_errors("p", new, old_spec=old, others=others, held=holdings) == []
    grown = spec("shared", preAllocations={"a": "10.0.0.5", "b": "10.0.0.6"})
    found = admission.pool_errors(
        "p", grown, old_spec=old, others=others, held=[*holdings, held("10.0.0.6", "y")]
    )
    assert texts(found) == [
        ("spec.preAllocations[b]", "10.0.0.6 is held by IPClaim y (IPAddress p-10-0-0-6)")
    ]


# -- claims -----------------------------------------------------------------------------------


def claim_errors(
    obj: dict[str, Any],
    *,
    kind: str = "metal3",
    old: dict[str, Any] | None = None,
    pool_spec: dict[str, Any] | None = None,
    holdings: list[admission.Held] | None = None,
) -> list[tuple[str, str]]:
    return texts(
        admission.claim_errors(
            kind,  # type: ignore[arg-type]
            obj,
            old=old,
            pool_name="p",
            pool_spec=pool_spec,
            held=holdings or [],
        )
    )


def test_a_claim_for_a_pool_of_another_namespace_is_refused() -> None:
    assert claim_errors(claim(pool_namespace="elsewhere")) == [
        (
            "spec.pool.namespace",
            "elsewhere is not the claim's namespace ns: a claim is served only by a pool of "
            "its own namespace",
        )
    ]
    assert claim_errors(claim(pool_namespace=NS)) == []


def test_a_requested_address_outside_the_pool_is_refused() -> None:
    assert claim_errors(claim("c", "10.9.9.9"), pool_spec=spec()) == [
        ("metadata.annotations[ipAddress]", "10.9.9.9 is produced by no entry of IPPool p")
    ]


def test_nothing_is_said_about_the_annotation_while_the_pool_does_not_exist() -> None:
    assert claim_errors(claim("c", "10.9.9.9"), pool_spec=None) == []


def test_a_requested_address_held_by_another_claim_is_refused_and_by_itself_passes() -> None:
    holdings = [held("10.0.0.5", "other"), held("10.0.0.5", "c", kind="capi")]
    assert claim_errors(claim("c", "10.0.0.5"), pool_spec=spec(), holdings=holdings) == [
        (
            "metadata.annotations[ipAddress]",
            "10.0.0.5 is held by IPClaim other (IPAddress p-10-0-0-5)",
        )
    ]


def test_a_requested_address_pre_allocated_to_another_claim_is_left_to_the_controller() -> None:
    pool = spec(preAllocations={"c": "10.0.0.4", "d": "10.0.0.5"})
    assert claim_errors(claim("c", "10.0.0.5"), pool_spec=pool) == []


def test_the_annotation_is_compared_in_its_canonical_form() -> None:
    pool = spec("p", {"subnet": "fd00::/64"})
    holding = admission.Held("metal3", "p-fd00--5", "p", "other", "fd00::5")
    assert claim_errors(claim("c", "FD00:0:0::5"), pool_spec=pool, holdings=[holding]) == [
        (
            "metadata.annotations[ipAddress]",
            "fd00::5 is held by IPClaim other (IPAddress p-fd00--5)",
        )
    ]


def test_a_cluster_api_claim_gets_the_annotation_rules_and_not_the_metal3_spec_rules() -> None:
    assert claim_errors(capi_claim("k", "10.0.0.500"), kind="capi", pool_spec=spec()) == [
        ("metadata.annotations[ipAddress]", "'10.0.0.500' is not a valid IP address")
    ]
    holdings = [held("10.0.0.2", "k2", kind="capi")]
    found = claim_errors(
        capi_claim("k", "10.0.0.2"), kind="capi", pool_spec=spec(), holdings=holdings
    )
    assert found == [
        (
            "metadata.annotations[ipAddress]",
            "10.0.0.2 is held by IPAddressClaim k2 (IPAddress p-10-0-0-2)",
        )
    ]


def test_a_claim_edit_keeps_problems_it_already_had_but_not_new_ones() -> None:
    holdings = [held("10.0.0.5", "other"), held("10.0.0.6", "another")]
    old = claim("c", "10.0.0.5")
    labelled = claim("c", "10.0.0.5")
    labelled["metadata"]["labels"] = {"x": "y"}
    assert claim_errors(labelled, old=old, pool_spec=spec(), holdings=holdings) == []
    assert claim_errors(claim("c", "10.0.0.6"), old=old, pool_spec=spec(), holdings=holdings) == [
        (
            "metadata.annotations[ipAddress]",
            "10.0.0.6 is held by IPClaim another (IPAddress p-10-0-0-6)",
        )
    ]


# -- the answer -------------------------------------------------------------------------------


def test_a_rejection_lists_every_field_in_one_message_and_as_causes() -> None:
    problems = (
        errors.FieldError("spec.a", "first, with a comma"),
        errors.FieldError("spec.b", "second"),
    )
    rejection = admission.Rejection("IPPool", "ipam.metal3.io", "p", problems)
    assert rejection.message == (
        'IPPool.ipam.metal3.io "p" is invalid: [spec.a: first, with a comma, spec.b: second]'
    )
    assert rejection.status == {
        "status": "Failure",
        "code": 422,
        "reason": "Invalid",
        "message": rejection.message,
        "details": {
            "name": "p",
            "group": "ipam.metal3.io",
            "kind": "IPPool",
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": "first, with a comma",
                    "field": "spec.a",
                },
                {"reason": "FieldValueInvalid", "message": "second", "field": "spec.b"},
            ],
        },
    }


def test_a_rejection_of_one_field_is_not_bracketed() -> None:
    one = admission.Rejection("IPClaim", "ipam.metal3.io", "c", (errors.FieldError("spec.x", "y"),))
    assert one.message == 'IPClaim.ipam.metal3.io "c" is invalid: spec.x: y'


@pytest.mark.parametrize(
    ("kind", "path"), [("metal3", "spec.pool.name"), ("capi", "spec.poolRef.name")]
)
def test_a_claim_for_a_pool_name_no_object_can_have_is_refused(kind: str, path: str) -> None:
    obj = claim() if kind == "metal3" else capi_claim()
    found = texts(
        admission.claim_errors(
            kind,  # type: ignore[arg-type]
            obj,
            pool_name="pool/../../x",
            pool_spec=None,
            held=[],
        )
    )

    assert found == [
        (
            path,
            "'pool/../../x' is not a valid object name (a lowercase RFC 1123 subdomain), "
            "so no IPPool can ever have it",
        )
    ]


# -- read from the survivors of mutation testing ----------------------------------------------


def test_an_update_without_its_old_object_and_a_create_are_reviewed() -> None:
    assert admission.review_needed("UPDATE", claim("c", "10.0.0.1"), None)
    assert admission.review_needed("CREATE", claim("c", "10.0.0.1"), claim("c", "10.0.0.1"))


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param(None, id="no-annotations"),
        pytest.param({"other": "10.0.0.1"}, id="other-annotation"),
        pytest.param({"ipAddress": 5}, id="not-text"),
    ],
)
def test_no_requested_address_reads_as_empty_text(annotations: dict[str, Any] | None) -> None:
    meta: dict[str, Any] = {"name": "c"}
    if annotations is not None:
        meta["annotations"] = annotations
    assert admission.requested({"metadata": meta}) == ""


def test_a_pool_update_keeps_metal3s_rules_on_changes() -> None:
    old = spec("p")
    renamed = spec("q", allocationStrategy="random")
    found = texts(admission.pool_errors("p", renamed, old_spec=old, others={}, held=[]))
    assert ("spec.namePrefix", "cannot be modified") in found
    assert ("spec.allocationStrategy", "cannot be modified after creation") in found
    backwards = spec("p", {"start": "10.0.0.9", "end": "10.0.0.1"})
    assert texts(admission.pool_errors("p", backwards, old_spec=old, others={}, held=[])) == [
        ("spec.pools[0].end", "end 10.0.0.1 is before start 10.0.0.9"),
    ]


def test_pools_without_a_name_prefix_are_told_so_once_and_clash_with_nobody() -> None:
    unnamed = {"pools": [{"start": "10.0.0.1", "end": "10.0.0.20"}]}
    assert texts(admission.pool_errors("p", unnamed, others={"q": unnamed}, held=[])) == [
        ("spec.namePrefix", "is required"),
    ]


def test_the_pool_itself_among_the_others_is_skipped_and_the_rest_still_checked() -> None:
    mine = spec("shared", preAllocations={"a": "10.0.0.7"})
    others = {
        "p": mine,
        "q": spec("shared", preAllocations={"b": "10.0.0.7"}),
    }
    assert texts(admission.pool_errors("p", mine, others=others, held=[])) == [
        (
            "spec.namePrefix",
            "'shared' is already the namePrefix of IPPool q: both pools would give their "
            "IPAddresses the same names",
        ),
        ("spec.preAllocations[a]", "10.0.0.7 is pre-allocated to claim b by IPPool q"),
    ]


def test_addresses_left_outside_are_listed_in_address_order() -> None:
    old = spec("p", {"start": "::", "end": "::ff"})
    new = spec("p", {"start": "::10", "end": "::ff"})
    # Object names in the opposite order, so that only the address can give the order.
    holdings = [
        admission.Held("metal3", "p-d", "p", "m-0", "::"),
        admission.Held("metal3", "p-c", "p", "m-1", "::1"),
        admission.Held("metal3", "p-a", "p", "m-3", "::c"),
        admission.Held("metal3", "p-b", "p", "m-2", "::9"),
    ]
    found = admission.pool_errors("p", new, old_spec=old, others={}, held=holdings)
    assert [e.message.split()[0] for e in found if e.path == "spec.pools"] == [
        "::",
        "::1",
        "::9",
        "::c",
    ]


def test_an_ipclaim_update_may_not_point_at_another_pool() -> None:
    assert claim_errors(claim("c", pool="q"), old=claim("c"), pool_spec=spec()) == [
        ("spec.pool.name", "cannot be modified")
    ]


def test_an_edit_of_a_claim_already_naming_another_namespace_is_not_refused_for_it() -> None:
    old = claim(pool_namespace="elsewhere")
    labelled = claim(pool_namespace="elsewhere")
    labelled["metadata"]["labels"] = {"x": "y"}
    assert claim_errors(labelled, old=old) == []


def test_an_edit_of_a_claim_already_requesting_an_address_outside_its_pool_passes() -> None:
    old = claim("c", "10.9.9.9")
    labelled = claim("c", "10.9.9.9")
    labelled["metadata"]["labels"] = {"x": "y"}
    assert claim_errors(labelled, old=old, pool_spec=spec()) == []


def test_a_claim_body_without_a_namespace_is_not_judged_on_its_pool_namespace() -> None:
    body = claim(pool_namespace="elsewhere")
    del body["metadata"]["namespace"]
    assert claim_errors(body) == []
