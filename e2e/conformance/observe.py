"""What a client observes in one namespace, with what differs by nature between two runs removed.

A snapshot maps ``Kind/name`` to the object as a client reads it, normalised: no uid,
resourceVersion, creation time or managedFields; owner references without uid; a
deletionTimestamp becomes ``<set>``; status timestamps (``lastUpdated``,
``lastTransitionTime``) become ``<set>``; the namespace's own name becomes
``<namespace>`` wherever it appears. Events are folded into one pseudo-object per
involved object and reason, ``Event/<Kind>/<name>/<reason>``: ``{type, messages}``.
"""

from __future__ import annotations

from typing import Any

from e2e.conformance.api import Api
from e2e.conformance.kinds import EVENTS, KINDS, Kind, Ref

NAMESPACE = "<namespace>"
SET = "<set>"
DROPPED_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "namespace",
        "deletionGracePeriodSeconds",
    }
)
TIMESTAMPS = frozenset({"lastUpdated", "lastTransitionTime"})
FINALIZERS = {
    "IPPool": "ippool.ipam.metal3.io",
    "IPClaim": "ipclaim.ipam.metal3.io",
    "IPAddress": "ipaddress.ipam.metal3.io",
    "IPAddressClaim": "ipam.metal3.io/ipaddressclaim",
    "CAPIIPAddress": "ipam.metal3.io/ipaddress",
}
"""The finalizer each kind carries once Metal3 IPAM (either implementation) has handled it."""

Snapshot = dict[str, dict[str, Any]]
"""``Kind/name`` (or ``Event/Kind/name/reason``) to the normalised object."""


def rename_namespace(value: Any, namespace: str) -> Any:
    if isinstance(value, str):
        return value.replace(namespace, NAMESPACE) if namespace in value else value
    if isinstance(value, list):
        return [rename_namespace(v, namespace) for v in value]
    if isinstance(value, dict):
        return {k: rename_namespace(v, namespace) for k, v in value.items()}
    return value


def _timestamps_set(value: Any) -> Any:
    if isinstance(value, list):
        return [_timestamps_set(v) for v in value]
    if isinstance(value, dict):
        return {k: (SET if k in TIMESTAMPS and v else _timestamps_set(v)) for k, v in value.items()}
    return value


def normalise(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as compared: see the module docstring for what is removed and why."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in DROPPED_METADATA}
    if "deletionTimestamp" in meta:
        meta["deletionTimestamp"] = SET
    if "ownerReferences" in meta:
        meta["ownerReferences"] = [
            {k: v for k, v in ref.items() if k != "uid"} for ref in meta["ownerReferences"]
        ]
    out["metadata"] = meta
    if "status" in out:
        out["status"] = _timestamps_set(out["status"])
    renamed: dict[str, Any] = rename_namespace(out, namespace)
    return renamed


def fold_events(events: list[dict[str, Any]], namespace: str) -> Snapshot:
    """Events as ``Event/<Kind>/<name>/<reason>``: ``{type, messages}`` (distinct, sorted)."""
    folded: Snapshot = {}
    for event in events:
        involved = event.get("involvedObject", {})
        key = f"Event/{_alias_of(involved)}/{involved.get('name', '')}/{event.get('reason', '')}"
        entry = folded.setdefault(key, {"type": event.get("type", ""), "messages": []})
        message = rename_namespace(str(event.get("message", "")), namespace)
        if message not in entry["messages"]:
            entry["messages"].append(message)
    for entry in folded.values():
        entry["messages"].sort()
    return folded


def _alias_of(involved: dict[str, Any]) -> str:
    group = str(involved.get("apiVersion", "")).rpartition("/")[0]
    for kind in KINDS:
        if kind.kind == involved.get("kind") and kind.group == group:
            return kind.alias
    return str(involved.get("kind", "?"))


def take(api: Api, namespace: str, kinds: tuple[Kind, ...] = KINDS) -> Snapshot:
    """Everything the namespace holds of ``kinds``, and its Events."""
    snapshot: Snapshot = {}
    for kind in kinds:
        for obj in api.list(kind, namespace):
            snapshot[f"{kind.alias}/{obj['metadata']['name']}"] = normalise(obj, namespace)
    snapshot.update(fold_events(api.list(EVENTS, namespace), namespace))
    return snapshot


# --- conditions on a snapshot --------------------------------------------------------------


def _get(snapshot: Snapshot, ref: Ref) -> dict[str, Any] | None:
    return snapshot.get(str(ref))


def bound(snapshot: Snapshot, ref: Ref) -> bool:
    claim = _get(snapshot, ref)
    if claim is None:
        return False
    status = claim.get("status") or {}
    if ref.kind.alias == "IPClaim":
        name = (status.get("address") or {}).get("name")
        return bool(name) and f"IPAddress/{name}" in snapshot
    name = (status.get("addressRef") or {}).get("name")
    return bool(name) and f"CAPIIPAddress/{name}" in snapshot


def failed(snapshot: Snapshot, ref: Ref) -> bool:
    claim = _get(snapshot, ref)
    if claim is None:
        return False
    status = claim.get("status") or {}
    if status.get("errorMessage"):
        return True
    return any(
        c.get("type") == "Ready" and c.get("status") == "False"
        for c in status.get("conditions") or []
    )


def holds(condition: str, snapshot: Snapshot, ref: Ref) -> bool:
    """Whether ``condition`` (one of :data:`e2e.conformance.cases.CONDITIONS`) holds for ``ref``."""
    obj = _get(snapshot, ref)
    if condition == "gone":
        return obj is None
    if condition == "exists":
        return obj is not None
    if condition == "deleting":
        return obj is not None and "deletionTimestamp" in obj["metadata"]
    if condition == "reconciled":
        wanted = FINALIZERS.get(ref.kind.alias)
        return obj is not None and wanted in obj["metadata"].get("finalizers", [])
    if condition == "bound":
        return bound(snapshot, ref)
    if condition == "failed":
        return failed(snapshot, ref)
    if condition == "settled":
        return bound(snapshot, ref) or failed(snapshot, ref)
    raise ValueError(f"unknown condition {condition!r}")


def inconsistent_pools(snapshot: Snapshot) -> list[str]:
    """Pools whose ``status.indexes`` is not what their address objects say.

    Both implementations keep ``indexes`` as claim name -> address of every address object
    (either kind) naming the pool, so until it is, a side has not finished reacting.
    """
    held: dict[str, dict[str, str]] = {}
    for key, obj in snapshot.items():
        alias = key.split("/", 1)[0]
        spec = obj.get("spec", {})
        if alias == "IPAddress":
            pool, claim = spec.get("pool", {}).get("name"), spec.get("claim", {}).get("name")
        elif alias == "CAPIIPAddress":
            pool, claim = spec.get("poolRef", {}).get("name"), spec.get("claimRef", {}).get("name")
        else:
            continue
        held.setdefault(str(pool), {})[str(claim or "")] = str(spec.get("address"))
    wrong = []
    for key, obj in snapshot.items():
        if not key.startswith("IPPool/"):
            continue
        indexes = (obj.get("status") or {}).get("indexes") or {}
        if indexes != held.get(key.split("/", 1)[1], {}):
            wrong.append(key)
    return wrong
