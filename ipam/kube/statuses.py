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
    return _claim_patch(
        claim,
        address_name=address_name,
        namespace=namespace,
        ready=True,
        reason=resources.ALLOCATED_REASON,
        message=f"Address allocated from pool {claim.pool_name}",
        error=None,
    )


def claim_failed(claim: bodies.ClaimRecord, message: str, reason: str) -> dict[str, Any]:
    """The status patch that reports why a claim has no address (empty when already so).

    The message goes to Metal3's ``errorMessage`` (clients treat any text there as a
    failure) and to the ``Ready`` condition of both kinds.
    """
    return _claim_patch(
        claim, address_name=None, ready=False, reason=reason, message=message, error=message
    )


def claim_waiting(claim: bodies.ClaimRecord, reason: str, message: str) -> dict[str, Any]:
    """The status patch for a claim that waits for something (no error: it is not failed)."""
    return _claim_patch(
        claim, address_name=None, ready=False, reason=reason, message=message, error=None
    )


def claim_deleting(claim: bodies.ClaimRecord, reason: str, message: str) -> dict[str, Any]:
    """The status patch of a deleted claim that still keeps its address, and why
    (``Deleting=True``; empty when it already says so). Ready and the address stay as they
    are: the address is still the claim's."""
    condition = _changed_condition(
        claim.conditions,
        resources.DELETING_CONDITION,
        True,
        reason,
        message,
        generation=claim.meta.generation,
    )
    if condition is None:
        return {}
    return {"conditions": merge_conditions(claim.conditions, [condition])}


def _claim_patch(
    claim: bodies.ClaimRecord,
    *,
    address_name: str | None,
    ready: bool,
    reason: str,
    message: str,
    error: str | None,
    namespace: str = "",
) -> dict[str, Any]:
    status = bodies.as_map(claim.body.get("status"))
    condition = _changed_condition(
        claim.conditions,
        resources.READY_CONDITION,
        ready,
        reason,
        message,
        generation=claim.meta.generation,
    )
    patch: dict[str, Any] = {}
    if claim.flavour.kind == "metal3":
        address = bodies.as_map(status.get("address"))
        wanted_namespace = namespace or claim.meta.namespace
        if address_name and (
            address.get("name") != address_name or address.get("namespace") != wanted_namespace
        ):
            patch["address"] = {"name": address_name, "namespace": wanted_namespace}
        if (status.get("errorMessage") or None) != error:
            patch["errorMessage"] = error
    elif address_name and claim.address_name != address_name:
        patch["addressRef"] = {"name": address_name}
    if condition is not None:
        merged = merge_conditions(claim.conditions, [condition])
        patch["conditions"] = merged
        if claim.flavour.kind == "capi":
            written = next(c for c in merged if c["type"] == resources.READY_CONDITION)
            patch["deprecated"] = {"v1beta1": {"conditions": [_v1beta1(written)]}}
    return patch


def _changed_condition(
    existing: Sequence[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    *,
    generation: int,
) -> dict[str, Any] | None:
    """The condition to write, or None when the one there already says the same."""
    wanted = condition(type_, status, reason, message, generation=generation, at=now())
    for old in existing:
        if old.get("type") == type_:
            same = all(old.get(k) == wanted[k] for k in ("status", "reason", "message"))
            if same and old.get("observedGeneration") == generation:
                return None
    return wanted


def _v1beta1(cond: Mapping[str, Any]) -> dict[str, Any]:
    """A condition in Cluster API's v1beta1 shape (severity instead of observedGeneration)."""
    result = {k: cond[k] for k in ("type", "status", "reason", "message", "lastTransitionTime")}
    if cond["status"] == "False":
        result["severity"] = (
            "Warning" if cond["reason"] == resources.POOL_NOT_READY_REASON else "Error"
        )
    return result


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
            old = current.get("indexes")
            if not value:
                if old is not None:
                    patch["indexes"] = None  # as upstream: no indexes once nothing is held
            elif (old or {}) != value:
                # A merge patch merges maps: removed claims must be nulled explicitly.
                patch["indexes"] = {**{k: None for k in (old or {}) if k not in value}, **value}
        elif current.get(key) != value:
            patch[key] = value
    existing = current.get("conditions") or []
    existing = [c for c in existing if isinstance(c, Mapping)]
    merged = merge_conditions(existing, conditions, owned=owned_conditions)
    if not _same_conditions(existing, merged):
        patch["conditions"] = merged
    return patch
