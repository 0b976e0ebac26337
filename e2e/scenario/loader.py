"""Read a scenario file into a :class:`Scenario`, or fail with every problem it has.

Checks run in order: YAML (with duplicate keys refused), the JSON Schema, then what a
schema cannot say: template variables (including those captured by earlier steps),
files named by ``file:``, snapshots compared before they are taken, regular expressions
and JSONPaths that cannot compile, moves from a cluster to itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from e2e.scenario import jsonpath, manifests, schema, templating
from e2e.scenario.errors import FormatError
from e2e.scenario.model import ACTIONS, DEFAULT_CLUSTER, DEFAULT_SETTLE, Scenario, Skip, Step


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears twice (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def display(path: Path, repo_root: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root.resolve()))
    except ValueError:
        return str(path)


def load(path: Path, *, repo_root: Path) -> Scenario:
    """The scenario in ``path``; ``file:`` entries are relative to ``repo_root``."""
    shown = display(path, repo_root)
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=_StrictLoader)  # a SafeLoader
    except (OSError, yaml.YAMLError) as err:
        raise FormatError(shown, [f"not readable YAML: {err}"]) from None
    found = schema.problems(document)
    if not found:
        found = list(_semantic_problems(document, repo_root))
    if found:
        raise FormatError(shown, found)
    return _build(path, document)


def _build(path: Path, document: dict[str, Any]) -> Scenario:
    steps = []
    for index, raw in enumerate(document["steps"]):
        action = next(a for a in ACTIONS if a in raw)
        steps.append(
            Step(
                index=index,
                action=action,
                body=raw[action],
                cluster=raw.get("cluster", DEFAULT_CLUSTER),
                name=raw.get("name", ""),
                raw=raw,
            )
        )
    invariants = document.get("invariants") or {}
    return Scenario(
        path=path,
        name=path.stem,
        description=document["description"].strip(),
        steps=tuple(steps),
        tags=tuple(document.get("tags") or ()),
        skip=tuple(Skip(s["name"], s["reason"]) for s in invariants.get("skip") or ()),
        settle=float(invariants.get("settle", DEFAULT_SETTLE)),
    )


def _semantic_problems(document: dict[str, Any], repo_root: Path) -> Iterator[str]:
    skipped = [s["name"] for s in (document.get("invariants") or {}).get("skip") or ()]
    for name in sorted({n for n in skipped if skipped.count(n) > 1}):
        yield f"key invariants.skip: '{name}' is skipped twice"
    snapshots: set[str] = set()
    captured: set[str] = set()
    for index, raw in enumerate(document["steps"]):
        action = next(a for a in ACTIONS if a in raw)
        label = schema.step_label(document, index)
        yield from _template_problems(label, action, raw, frozenset(captured))
        yield from _file_problems(label, action, raw[action], repo_root)
        yield from _expression_problems(label, action, raw[action])
        if action == "snapshot":
            snapshots.add(raw["snapshot"])
        if action == "capture":
            captured.update(raw["capture"])
        if action in ("wait", "expect") and "snapshot" in raw[action]:
            wanted = raw[action]["snapshot"]
            if wanted not in snapshots:
                yield (f"{label}, key {action}.snapshot: no earlier step takes snapshot '{wanted}'")
        if action == "move":
            yield from _move_problems(label, raw)


def _template_problems(
    label: str, action: str, raw: dict[str, Any], captured: frozenset[str]
) -> Iterator[str]:
    known = templating.RUN_VARIABLES | captured
    body = raw[action]
    if action == "generate":
        for key, variable in templating.placeholders(body.get("template"), "generate.template"):
            if variable not in known | {"i"}:
                yield _unknown_variable(label, key, variable, known | {"i"})
        body = {k: v for k, v in body.items() if k != "template"}
    for key, variable in templating.placeholders(body, action):
        if variable not in known:
            yield _unknown_variable(label, key, variable, known)


def _unknown_variable(label: str, key: str, variable: str, known: frozenset[str]) -> str:
    if variable == "i":
        where = " ({{ i }} exists only in generate.template)"
    else:
        where = " (a capture step defines variables for the steps after it)"
    return (
        f"{label}, key {key}: unknown template variable '{variable}'{where}; "
        f"known: {', '.join(sorted(known))}"
    )


def _file_problems(label: str, action: str, body: Any, repo_root: Path) -> Iterator[str]:
    if action not in ("apply", "delete"):
        return
    for number, entry in enumerate(manifests.entries(body)):
        if not isinstance(entry, dict) or "file" not in entry:
            continue
        key = f"{action}[{number}].file" if isinstance(body, list) else f"{action}.file"
        path = repo_root / entry["file"]
        if not path.is_file():
            yield f"{label}, key {key}: no file {entry['file']} under {repo_root}"
            continue
        try:
            objects = manifests.load_file(path)
        except (yaml.YAMLError, ValueError) as err:
            yield f"{label}, key {key}: {entry['file']} is not a YAML file of objects: {err}"
            continue
        for obj in objects:
            if not (isinstance(obj, dict) and obj.get("apiVersion") and obj.get("kind")):
                yield f"{label}, key {key}: {entry['file']} holds an object without apiVersion/kind"
            elif not (obj.get("metadata") or {}).get("name"):
                yield f"{label}, key {key}: {entry['file']} holds a {obj['kind']} without a name"


def _expression_problems(label: str, action: str, body: Any) -> Iterator[str]:
    if action == "capture":
        for variable, source in body.items():
            try:
                jsonpath.parse(source["path"])
            except jsonpath.PathError as err:
                yield f"{label}, key capture.{variable}.path: {err}"
    if action not in ("wait", "expect"):
        return
    for number, check in enumerate(manifests.entries(body.get("jsonpath", []))):
        key = f"{action}.jsonpath" + (f"[{number}]" if isinstance(body["jsonpath"], list) else "")
        try:
            jsonpath.parse(check["path"])
        except jsonpath.PathError as err:
            yield f"{label}, key {key}.path: {err}"
        if "matches" in check:
            yield from _regex_problem(label, f"{key}.matches", check["matches"])
    for number, event in enumerate(body.get("events", [])):
        for field in ("reason", "message"):
            if field in event:
                key = f"{action}.events[{number}].{field}"
                yield from _regex_problem(label, key, event[field])


def _regex_problem(label: str, key: str, pattern: str) -> Iterator[str]:
    try:
        re.compile(pattern)
    except re.error as err:
        yield f"{label}, key {key}: not a regular expression: {err}"


def _move_problems(label: str, raw: dict[str, Any]) -> Iterator[str]:
    if "cluster" in raw:
        yield f"{label}, key cluster: a move names its clusters with move.from and move.to"
    body = raw["move"]
    if body.get("from", "source") == body.get("to", "target"):
        yield f"{label}, key move: from and to are the same cluster"
