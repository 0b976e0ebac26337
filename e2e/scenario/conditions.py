"""The conditions ``wait`` polls for and ``expect`` checks once; each raises Mismatch or returns.

A condition body is rendered (``{{ namespace }}``...) and namespaced before it is checked,
and each Mismatch carries expected beside found so the failure shows a diff. Values that
are compared (``equals``, ``notEquals``) are rendered keeping a captured value's type, so
``notEquals: "{{ used }}"`` compares a number with a number.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

from e2e.scenario import allocations, jsonpath, manifests, matching
from e2e.scenario.errors import Mismatch
from e2e.scenario.kube import ObjectClient
from e2e.scenario.manifests import Kind, ObjectRef
from e2e.scenario.run import Run

EVENT = Kind("v1", "Event")

Condition = Callable[[Run, str, Any], None]


def objects(run: Run, cluster: str, body: Any) -> None:
    client = run.client(cluster)
    for expected in _objects(run, body):
        ref = ObjectRef.of(expected)
        found = client.get(ref)
        if found is None:
            raise Mismatch(f"{ref} does not exist", expected=expected, found=None)
        miss = matching.first_mismatch(expected, found)
        if miss:
            path, want, have = miss
            raise Mismatch(
                f"{ref}: at {path} expected {want!r}, found {have!r}",
                expected=expected,
                found=matching.project(found, expected),
                path=path,
            )


def absent(run: Run, cluster: str, body: Any) -> None:
    client = run.client(cluster)
    for ref in _refs(run, body):
        found = client.get(ref)
        if found is not None:
            meta = found.get("metadata") or {}
            shown = {k: meta[k] for k in ("name", "deletionTimestamp", "finalizers") if k in meta}
            raise Mismatch(f"{ref} exists", expected=None, found={"metadata": shown})


def jsonpaths(run: Run, cluster: str, body: Any) -> None:
    client = run.client(cluster)
    for raw in manifests.entries(body):
        check = run.render({k: v for k, v in raw.items() if k not in ("equals", "notEquals")})
        for key in ("equals", "notEquals"):
            if key in raw:
                check[key] = run.render_value(raw[key])
        ref = ObjectRef.of(check["object"], run.namespace)
        found = client.get(ref)
        if found is None:
            raise Mismatch(f"{ref} does not exist", expected=check, found=None)
        values = jsonpath.select(found, check["path"])
        where = f"{ref} {check['path']}"
        if check.get("decode") == "base64":
            values = [_base64_text(where, v) for v in values]
        value = values[0] if len(values) == 1 else values
        if "exists" in check and bool(values) != check["exists"]:
            say = "is missing" if check["exists"] else f"exists: {value!r}"
            raise Mismatch(f"{where} {say}", expected={"exists": check["exists"]}, found=value)
        if "equals" in check and (not values or value != check["equals"]):
            shown = value if values else matching.MISSING
            raise Mismatch(
                f"{where}: expected {check['equals']!r}, found {shown!r}",
                expected=check["equals"],
                found=shown,
                path=check["path"],
            )
        if "notEquals" in check and values and value == check["notEquals"]:
            raise Mismatch(
                f"{where}: expected anything but {check['notEquals']!r}, found it",
                expected={"notEquals": check["notEquals"]},
                found=value,
                path=check["path"],
            )
        if "length" in check and len(values) != check["length"]:
            raise Mismatch(
                f"{where}: selects {len(values)} values, expected {check['length']}",
                expected={"length": check["length"]},
                found=len(values),
                path=check["path"],
            )
        if "matches" in check:
            text = " ".join(str(v) for v in values)
            if not re.search(check["matches"], text):
                raise Mismatch(
                    f"{where}: {text!r} does not match /{check['matches']}/",
                    expected={"matches": check["matches"]},
                    found=text,
                )


def _base64_text(where: str, value: Any) -> str:
    """A Secret's data value as text; a Mismatch when it is not base64 of UTF-8."""
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise Mismatch(
            f"{where}: {value!r} is not base64 of UTF-8 text ({err})", found=value
        ) from None


def count(run: Run, cluster: str, body: Any) -> None:
    for query in manifests.entries(run.render(body)):
        found = _select_on(run, query.get("clusters") or [cluster], query)
        n = len(found)
        bounds: dict[str, int] = {}
        of: dict[str, str] = {}
        for key in ("equals", "atLeast", "atMost"):
            if isinstance(query.get(key), dict):
                other = query[key]["count"]
                on = other.get("clusters") or [other.get("cluster", cluster)]
                bounds[key] = len(_select_on(run, on, other))
                where = "" if on == [cluster] or "clusters" in other else f" on {on[0]}"
                of[key] = f" (the count of {_describe(other)}{where})"
            elif key in query:
                bounds[key] = query[key]
        ok = (
            n == bounds.get("equals", n)
            and n >= bounds.get("atLeast", n)
            and n <= bounds.get("atMost", n)
        )
        if not ok:
            names = sorted(allocations.name(o) for o in found)
            shown = names[:20] + ([f"... {n - 20} more"] if n > 20 else [])
            raise Mismatch(
                f"{_describe(query)}: {n} found, expected {_bounds(bounds, of)}",
                expected=bounds,
                found={"count": n, "names": shown},
            )


def _select_on(run: Run, clusters: list[str], query: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects the query selects on each of ``clusters``, together (a count is their sum)."""
    return [o for on in clusters for o in select(run.client(on), run.namespace, query)]


def select(client: ObjectClient, namespace: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects a query names: kind, then selectors, then ``name`` and ``where``."""
    found = client.list(
        Kind(query["apiVersion"], query["kind"]),
        query.get("namespace", namespace),
        label_selector=query.get("labelSelector"),
        field_selector=query.get("fieldSelector"),
        missing_kind_ok=True,
    )
    if "name" in query:
        found = [o for o in found if allocations.name(o) == query["name"]]
    if "where" in query:
        found = [o for o in found if matching.matches(query["where"], o)]
    return found


def events(run: Run, cluster: str, body: Any) -> None:
    client = run.client(cluster)
    recorded: dict[str, list[dict[str, Any]]] = {}
    for wanted in run.render(body):
        involved = wanted["involvedObject"]
        namespace = involved.get("namespace", run.namespace)
        if namespace not in recorded:
            recorded[namespace] = client.list(EVENT, namespace)
        about = [e for e in recorded[namespace] if _involves(e, involved)]
        if wanted.get("absent"):
            matching_ones = [e for e in about if _event_matches(e, wanted)]
            if matching_ones:
                raise Mismatch(
                    f"an Event about {involved['kind']} {involved['name']} matches, and none may",
                    expected={"no Event like": _wanted_fields(wanted)},
                    found=[_shown(e) for e in matching_ones],
                )
            continue
        if not any(_event_matches(e, wanted) for e in about):
            shown = [_shown(e) for e in about]
            raise Mismatch(
                f"no Event about {involved['kind']} {involved['name']} matches",
                expected=_wanted_fields(wanted),
                found=shown or "(no Events about it)",
            )


def _wanted_fields(wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if k not in ("involvedObject", "absent")}


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event.get(k) for k in ("type", "reason", "message") if k in event}


def _involves(event: dict[str, Any], involved: dict[str, Any]) -> bool:
    obj = event.get("involvedObject") or {}
    return all(obj.get(k) == v for k, v in involved.items())


def _event_matches(event: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if "type" in wanted and event.get("type") != wanted["type"]:
        return False
    if "reason" in wanted and not re.fullmatch(wanted["reason"], event.get("reason") or ""):
        return False
    return "message" not in wanted or bool(re.search(wanted["message"], event.get("message") or ""))


def snapshot(run: Run, cluster: str, body: Any) -> None:
    recorded = run.snapshots[body]
    current = allocations.snapshot_of(run.client(cluster), run.namespaces)
    if current != recorded:
        miss = matching.first_mismatch(recorded, current) or matching.first_mismatch(
            current, recorded
        )
        path = miss[0] if miss else ""
        raise Mismatch(
            f"allocations on {cluster} differ from snapshot '{body}' (first at {path})",
            expected=recorded,
            found=current,
            path=path,
        )


def unchanged(run: Run, cluster: str, body: Any) -> None:
    """No selected object gets a new resourceVersion (or appears, or goes) for N seconds."""
    client = run.client(cluster)
    queries = run.render(body.get("objects")) or [
        {"apiVersion": k.api_version, "kind": k.kind} for k in allocations.IPAM_KINDS
    ]

    def observe() -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for query in queries:
            for obj in select(client, run.namespace, query):
                seen[f"{obj['kind']} {allocations.name(obj)}"] = obj
        return seen

    before = observe()
    deadline = time.monotonic() + float(body["seconds"])
    while time.monotonic() < deadline:
        run.sleep(min(run.interval * 2, max(0.0, deadline - time.monotonic())))
        after = observe()
        changed = sorted(
            key
            for key in before.keys() | after.keys()
            if _version(before.get(key)) != _version(after.get(key))
        )
        if changed:
            key = changed[0]
            raise Mismatch(
                f"{', '.join(changed)} changed within {body['seconds']:g} s",
                expected=_without_noise(before.get(key)),
                found=_without_noise(after.get(key)),
            )


def _version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else str(obj["metadata"].get("resourceVersion"))


def _without_noise(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _objects(run: Run, body: Any) -> list[dict[str, Any]]:
    return [manifests.with_namespace(o, run.namespace) for o in manifests.entries(run.render(body))]


def _refs(run: Run, body: Any) -> list[ObjectRef]:
    return [ObjectRef.of(o, run.namespace) for o in manifests.entries(run.render(body))]


def _describe(query: dict[str, Any]) -> str:
    parts = [str(Kind(query["apiVersion"], query["kind"]))]
    for key in ("namespace", "name", "labelSelector", "fieldSelector"):
        if key in query:
            parts.append(f"{key}={query[key]}")
    if "where" in query:
        parts.append("matching where")
    if "clusters" in query:
        parts.append(f"on {' + '.join(query['clusters'])}")
    return " ".join(parts)


def _bounds(bounds: dict[str, int], of: dict[str, str]) -> str:
    words = {"equals": "exactly", "atLeast": "at least", "atMost": "at most"}
    return " and ".join(f"{words[k]} {v}{of.get(k, '')}" for k, v in bounds.items())


CONDITIONS: dict[str, Condition] = {
    "objects": objects,
    "absent": absent,
    "jsonpath": jsonpaths,
    "count": count,
    "events": events,
    "snapshot": snapshot,
}
