"""A conformance case is one YAML file of steps; every step acts once and waits on both sides.

Format (``conformance/README.md`` has the long form)::

    description: what the case covers
    steps:
      - name: optional label
        apply: OBJECT            # or a list: applied one at a time, each its own step
        delete: Kind/name        # or a list of them
        patch: {object: Kind/name, merge: {...}}   # or json: [...], subresource: status
        wait: {settled: [IPClaim/a], gone: [...], ...}   # replaces the default wait
        wait_upstream: {why: text, failed: [...]}        # what upstream reaches instead
        settle: 1.0              # seconds both sides must stay unchanged (default 1)
        timeout: 120             # seconds to reach the wait on each side

Objects carry no namespace: each side gets its own. The default wait of an ``apply`` is
``settled`` for a claim and ``reconciled`` for a pool; of a ``delete``, ``gone``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.conformance.kinds import Kind, Ref, UnknownKind, of_manifest

CONDITIONS = ("bound", "failed", "settled", "gone", "deleting", "reconciled", "exists", "unsynced")
"""``bound``: the claim names an address object that exists; ``failed``: the claim reports
an error (``errorMessage``, or a Ready condition that is False); ``settled``: either;
``gone``: the object does not exist; ``deleting``: it exists with a deletionTimestamp;
``reconciled``: it carries its IPAM finalizer; ``exists``: it exists. Every pool's
``status.indexes`` must moreover agree with its address objects, except for the pools named
by ``unsynced`` (for a side known to leave them stale)."""
ACTIONS = ("apply", "delete", "patch", "wait")
DEFAULT_SETTLE = 1.0
DEFAULT_TIMEOUT = 120.0


class CaseFormatError(ValueError):
    """The case file is malformed; the message names the file, the step and the key."""


@dataclass(frozen=True)
class Wait:
    """Conditions on named objects, each a tuple of refs; all must hold at once."""

    conditions: Mapping[str, tuple[Ref, ...]] = field(default_factory=dict)
    why: str = ""

    def describe(self) -> str:
        parts = [f"{k} {', '.join(map(str, refs))}" for k, refs in self.conditions.items() if refs]
        return "; ".join(parts) or "nothing"


@dataclass(frozen=True)
class Step:
    """One action done to both namespaces, then waited for on both."""

    name: str
    action: str
    target: Any
    wait: Wait
    wait_upstream: Wait | None
    settle: float
    timeout: float


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    description: str
    steps: tuple[Step, ...]


def _fail(path: Path, where: str, text: str) -> CaseFormatError:
    return CaseFormatError(f"{path}: {where}: {text}")


def _ref(path: Path, where: str, value: Any) -> Ref:
    if not isinstance(value, str):
        raise _fail(path, where, f"expected Kind/name, found {value!r}")
    try:
        return Ref.parse(value)
    except UnknownKind as err:
        raise _fail(path, where, str(err)) from None


def _refs(path: Path, where: str, value: Any) -> tuple[Ref, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(_ref(path, where, v) for v in values)


def _wait(path: Path, where: str, raw: Any, *, upstream: bool = False) -> Wait:
    if not isinstance(raw, dict):
        raise _fail(path, where, f"expected a mapping of conditions, found {raw!r}")
    conditions: dict[str, tuple[Ref, ...]] = {}
    why = ""
    for key, value in raw.items():
        if key == "why" and upstream:
            why = str(value)
        elif key in CONDITIONS:
            conditions[key] = _refs(path, f"{where}.{key}", value)
        else:
            allowed = ", ".join((*CONDITIONS, "why") if upstream else CONDITIONS)
            raise _fail(path, f"{where}.{key}", f"unknown condition (known: {allowed})")
    if upstream and not why.strip():
        raise _fail(path, where, "wait_upstream needs a 'why': what upstream does instead")
    return Wait(conditions, why)


def _manifest_ref(path: Path, where: str, manifest: Any) -> tuple[Kind, str]:
    if not isinstance(manifest, dict):
        raise _fail(path, where, f"expected an object, found {manifest!r}")
    try:
        kind = of_manifest(manifest)
    except UnknownKind as err:
        raise _fail(path, where, str(err)) from None
    name = manifest.get("metadata", {}).get("name")
    if not isinstance(name, str) or not name:
        raise _fail(path, where, "the object needs metadata.name")
    if "namespace" in manifest.get("metadata", {}):
        raise _fail(path, where, "objects carry no namespace: each side has its own")
    return kind, name


def _default_wait(action: str, target: Any) -> Wait:
    if action == "apply":
        kind, name = of_manifest(target), target["metadata"]["name"]
        ref = Ref(kind, name)
        if kind.alias in ("IPClaim", "IPAddressClaim"):
            return Wait({"settled": (ref,)})
        if kind.alias == "IPPool":
            return Wait({"reconciled": (ref,)})
        return Wait({"exists": (ref,)})
    if action == "delete":
        return Wait({"gone": tuple(target)})
    return Wait()


def _steps(path: Path, number: int, raw: Any) -> list[Step]:
    where = f"step {number}"
    if not isinstance(raw, dict):
        raise _fail(path, where, "a step is a mapping")
    actions = [key for key in ACTIONS if key in raw and key != "wait"] or (
        ["wait"] if "wait" in raw else []
    )
    if len(actions) != 1:
        raise _fail(path, where, f"needs exactly one of {', '.join(ACTIONS)}, found {actions}")
    unknown = set(raw) - {*ACTIONS, "name", "wait_upstream", "settle", "timeout"}
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)}")
    action = actions[0]
    name = str(raw.get("name", ""))
    settle = float(raw.get("settle", DEFAULT_SETTLE))
    timeout = float(raw.get("timeout", DEFAULT_TIMEOUT))
    upstream = (
        _wait(path, f"{where}.wait_upstream", raw["wait_upstream"], upstream=True)
        if "wait_upstream" in raw
        else None
    )
    targets: list[Any]
    if action == "apply":
        objects = raw["apply"] if isinstance(raw["apply"], list) else [raw["apply"]]
        for n, manifest in enumerate(objects):
            _manifest_ref(path, f"{where}.apply[{n}]", manifest)
        targets = objects
    elif action == "delete":
        targets = [_refs(path, f"{where}.delete", raw["delete"])]
    elif action == "patch":
        targets = [_patch(path, f"{where}.patch", raw["patch"])]
    else:
        targets = [None]
    explicit = raw.get("wait")
    steps = []
    for n, target in enumerate(targets):
        label = name or _label(action, target)
        if len(targets) > 1:
            label = f"{label} ({n + 1}/{len(targets)})"
        wait = (
            _wait(path, f"{where}.wait", explicit)
            if explicit is not None
            else _default_wait(action, target)
        )
        steps.append(Step(label, action, target, wait, upstream, settle, timeout))
    return steps


def _patch(path: Path, where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or "object" not in raw:
        raise _fail(path, where, "needs object: Kind/name and merge: or json:")
    kinds = [k for k in ("merge", "json") if k in raw]
    if len(kinds) != 1:
        raise _fail(path, where, "needs exactly one of merge, json")
    return {
        "object": _ref(path, f"{where}.object", raw["object"]),
        "type": kinds[0],
        "body": raw[kinds[0]],
        "subresource": raw.get("subresource"),
    }


def _label(action: str, target: Any) -> str:
    if action == "apply":
        return f"apply {of_manifest(target).alias}/{target['metadata']['name']}"
    if action == "delete":
        return "delete " + ", ".join(map(str, target))
    if action == "patch":
        return f"patch {target['object']}"
    return "wait"


def load(path: Path) -> Case:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CaseFormatError(f"{path}: not YAML: {err}") from None
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "a case is a mapping with description and steps")
    unknown = set(raw) - {"description", "steps"}
    if unknown:
        raise _fail(path, "top level", f"unknown keys {sorted(unknown)}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _fail(path, "description", "required: what the case covers")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(path, "steps", "required: a non-empty list")
    steps = [s for n, r in enumerate(raw_steps, start=1) for s in _steps(path, n, r)]
    return Case(path.stem, path, description.strip(), tuple(steps))


def load_all(directory: Path) -> list[Case]:
    return [load(p) for p in sorted(directory.glob("*.yaml"))]
