"""The status a claim or a pool should show, as merge patches that are empty when nothing changes.

Writing only differences is what keeps a level-based controller quiet: a reconcile that
finds the world as it should be writes nothing, so it triggers no event, so it does not
run again (upstream's endless ``lastUpdated`` loop, #12 and #1071).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from ipam.kube import bodies, resources


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: str, status: bool, reason: str, message: str, *, generation: int, at: str
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": at,
        "observedGeneration": generation,
    }


def merge_conditions(
    existing: Sequence[Mapping[str, Any]],
    wanted: Sequence[Mapping[str, Any]],
    *,
    owned: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """``existing`` with each ``wanted`` condition set, and ``owned`` types not wanted dropped.

    A condition whose status did not change keeps its lastTransitionTime; conditions of
    other types (someone else's) are kept as they are.
    """
    by_type = {str(c.get("type")): c for c in wanted}
    result: list[dict[str, Any]] = []
    for old in existing:
        type_ = str(old.get("type"))
        if type_ in by_type:
            new = dict(by_type.pop(type_))
            if old.get("status") == new["status"] and old.get("lastTransitionTime"):
                new["lastTransitionTime"] = old["lastTransitionTime"]
            result.append(new)
        elif type_ not in owned:
            result.append(dict(old))
    result.extend(dict(c) for c in by_type.values())
    return result


def _same_conditions(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> bool:
    return [dict(c) for c in old] == [dict(c) for c in new]


# --- claims ----------------------------------------------------------------------------------


def claim_bound(claim: bodies.ClaimRecord, address_name: str, namespace: str) -> dict[str, Any]:
    """The status patch that binds a claim to its IPAddress (empty when already so)."""
    status = bodies.as_map(claim.body.get("status"))
    if claim.flavour.kind == "metal3":
        address = bodies.as_map(status.get("address"))
        patch: dict[str, Any] = {}
        if address.get("name") != address_name or address.get("namespace") != namespace:
            patch["address"] = {"name": address_name, "namespace": namespace}
        if status.get("errorMessage"):
            patch["errorMessage"] = None
        return patch
    return _capi_status(
        claim,
        address_name=address_name,
        ready=condition(
            resources.CAPI_READY_CONDITION,
            True,
            resources.CAPI_ALLOCATED_REASON,
            f"Address allocated from pool {claim.pool_name}",
            generation=claim.meta.generation,
            at=now(),
        ),
    )


def claim_failed(claim: bodies.ClaimRecord, message: str, reason: str) -> dict[str, Any]:
    """The status patch that reports why a claim has no address (empty when already so)."""
    status = bodies.as_map(claim.body.get("status"))
    if claim.flavour.kind == "metal3":
        return {} if status.get("errorMessage") == message else {"errorMessage": message}
    return _capi_status(
        claim,
        address_name=claim.address_name or None,
        ready=condition(
            resources.CAPI_READY_CONDITION,
            False,
            reason,
            message,
            generation=claim.meta.generation,
            at=now(),
        ),
    )


def _capi_status(
    claim: bodies.ClaimRecord, *, address_name: str | None, ready: Mapping[str, Any]
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    if address_name and claim.address_name != address_name:
        patch["addressRef"] = {"name": address_name}
    old = claim.condition(resources.CAPI_READY_CONDITION)
    unchanged = (
        old is not None
        and all(old.get(k) == ready[k] for k in ("status", "reason", "message"))
        and old.get("observedGeneration") == ready["observedGeneration"]
    )
    if not unchanged:
        patch["conditions"] = merge_conditions(claim.conditions, [ready])
    return patch


# --- pools -----------------------------------------------------------------------------------


def pool_patch(
    current: Mapping[str, Any],
    wanted: Mapping[str, Any],
    conditions: Sequence[Mapping[str, Any]],
    *,
    owned_conditions: Sequence[str],
) -> dict[str, Any]:
    """The pool status patch: changed fields of ``wanted`` plus the conditions (if changed)."""
    patch: dict[str, Any] = {}
    for key, value in wanted.items():
        if key == "indexes":
            old = current.get("indexes") or {}
            if old != value:
                # A merge patch merges maps: removed claims must be nulled explicitly.
                patch["indexes"] = {**{k: None for k in old if k not in value}, **value}
        elif current.get(key) != value:
            patch[key] = value
    existing = current.get("conditions") or []
    existing = [c for c in existing if isinstance(c, Mapping)]
    merged = merge_conditions(existing, conditions, owned=owned_conditions)
    if not _same_conditions(existing, merged):
        patch["conditions"] = merged
    return patch
