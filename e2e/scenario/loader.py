"""Read a scenario file into a :class:`Scenario`, or fail with every problem it has.

Checks run in order: YAML (with duplicate keys refused), the JSON Schema, then what a
schema cannot say: template variables (including those captured by earlier steps),
files named by ``file:``, ``refused`` on a step that is not an apply of one
object or a patch, snapshots compared before they are taken, backups restored
before they are written, regular expressions and JSONPaths that cannot compile, moves
from a cluster to itself or of a namespace that is not the scenario's, flags the harness
sets itself, and joins of blocks that were never started.

What a background block captures, snapshots or backs up is known to its own later steps
and, once it is joined, to the foreground; a block knows what the foreground knew when
it started. Anything else would be a race, so it is refused here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.scenario import jsonpath, manifests, schema, templating
from e2e.scenario.errors import FormatError
from e2e.scenario.model import (
    ACTIONS,
    DEFAULT_CLUSTER,
    DEFAULT_MOVE_TIMEOUT,
    DEFAULT_SETTLE,
    Scenario,
    Skip,
    Step,
    namespace_variables,
)

HARNESS_FLAGS = {
    "--kubeconfig": "the harness gives each controller a ServiceAccount kubeconfig",
    "--health-port": "the harness picks a free port (the ready step reads it)",
    "--metrics-port": "the harness picks a free port",
}
"""Controller flags a scenario may not pass, and why."""


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
    invariants = document.get("invariants") or {}
    return Scenario(
        path=path,
        name=path.stem,
        description=document["description"].strip(),
        steps=tuple(_step(index, raw) for index, raw in enumerate(document["steps"])),
        tags=tuple(document.get("tags") or ()),
        skip=tuple(Skip(s["name"], s["reason"]) for s in invariants.get("skip") or ()),
        settle=float(invariants.get("settle", DEFAULT_SETTLE)),
        namespaces=int(document.get("namespaces", 1)),
        move_timeout=float(document.get("moveTimeout", DEFAULT_MOVE_TIMEOUT)),
    )


def _step(index: int, raw: dict[str, Any], *, block: str = "", parent: int | None = None) -> Step:
    action = next(a for a in ACTIONS if a in raw)
    inner: tuple[Step, ...] = ()
    if action == "background":
        block_id = raw["background"]["id"]
        inner = tuple(
            _step(number, child, block=block_id, parent=index)
            for number, child in enumerate(raw["background"]["steps"])
        )
    return Step(
        index=index,
        action=action,
        body=raw[action],
        cluster=raw.get("cluster", DEFAULT_CLUSTER),
        name=raw.get("name", ""),
        raw=raw,
        block=block,
        parent=parent,
        steps=inner,
        refused=tuple(raw.get("refused") or ()),
    )


@dataclass
class _Known:
    """What the steps of one thread (the foreground or a block) may name so far."""

    variables: set[str] = field(default_factory=set)
    snapshots: set[str] = field(default_factory=set)
    backups: set[str] = field(default_factory=set)

    def copy(self) -> _Known:
        return _Known(set(self.variables), set(self.snapshots), set(self.backups))

    def update(self, other: _Known) -> None:
        self.variables |= other.variables
        self.snapshots |= other.snapshots
        self.backups |= other.backups


def _semantic_problems(document: dict[str, Any], repo_root: Path) -> Iterator[str]:
    skipped = [s["name"] for s in (document.get("invariants") or {}).get("skip") or ()]
    for name in sorted({n for n in skipped if skipped.count(n) > 1}):
        yield f"key invariants.skip: '{name}' is skipped twice"
    run_variables = set(namespace_variables(int(document.get("namespaces", 1)))) | {"suffix"}
    foreground = _Known(variables=set(run_variables))
    blocks: dict[str, tuple[int, _Known]] = {}
    joined: dict[str, int] = {}
    for index, raw in enumerate(document["steps"]):
        action = next(a for a in ACTIONS if a in raw)
        label = schema.step_label(document, index)
        if action == "background":
            block_id = raw["background"]["id"]
            if block_id in blocks:
                first = blocks[block_id][0] + 1
                yield f"{label}, key background.id: step {first} starts a block '{block_id}' already"
            known = foreground.copy()
            for number, child in enumerate(raw["background"]["steps"]):
                child_label = schema.step_label(document, index, number)
                yield from _step_problems(child_label, child, known, repo_root)
            blocks[block_id] = (index, known)
            continue
        if action == "join":
            for block_id in raw["join"] if isinstance(raw["join"], list) else [raw["join"]]:
                if block_id not in blocks:
                    yield f"{label}, key join: no earlier step starts a background block '{block_id}'"
                elif block_id in joined:
                    yield f"{label}, key join: step {joined[block_id] + 1} joins '{block_id}' already"
                else:
                    joined[block_id] = index
                    foreground.update(blocks[block_id][1])
            continue
        yield from _step_problems(label, raw, foreground, repo_root)


def _step_problems(
    label: str, raw: dict[str, Any], known: _Known, repo_root: Path
) -> Iterator[str]:
    """What is wrong with one step given what its thread knows; then what it adds to that."""
    action = next(a for a in ACTIONS if a in raw)
    yield from _template_problems(label, action, raw, frozenset(known.variables))
    yield from _file_problems(label, action, raw[action], repo_root)
    yield from _expression_problems(label, action, raw[action])
    if action in ("wait", "expect") and "snapshot" in raw[action]:
        wanted = raw[action]["snapshot"]
        if wanted not in known.snapshots:
            yield (
                f"{label}, key {action}.snapshot: no earlier step takes snapshot '{wanted}'"
                " (one in a background block counts once the block is joined)"
            )
    if action == "move":
        yield from _move_problems(label, raw, known)
    if action == "controller":
        yield from _controller_problems(label, raw["controller"])
    if "refused" in raw:
        yield from _refused_problems(label, action, raw[action])
    if action == "snapshot":
        known.snapshots.add(raw["snapshot"])
    if action == "capture":
        known.variables.update(raw["capture"])
    if action == "move" and "toDirectory" in raw["move"]:
        known.backups.add(raw["move"]["toDirectory"])


def _template_problems(
    label: str, action: str, raw: dict[str, Any], known: frozenset[str]
) -> Iterator[str]:
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
    elif re.fullmatch(r"namespace[2-9]", variable):
        where = f" (namespaces: {variable[-1]} at the top gives the scenario that many)"
    else:
        where = (
            " (a capture step defines variables for the steps after it; one in a background"
            " block, for that block and for the steps after its join)"
        )
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
        for part in ("reason", "message"):
            if part in event:
                key = f"{action}.events[{number}].{part}"
                yield from _regex_problem(label, key, event[part])


def _regex_problem(label: str, key: str, pattern: str) -> Iterator[str]:
    try:
        re.compile(pattern)
    except re.error as err:
        yield f"{label}, key {key}: not a regular expression: {err}"


def _move_problems(label: str, raw: dict[str, Any], known: _Known) -> Iterator[str]:
    if "cluster" in raw:
        yield f"{label}, key cluster: a move names its clusters with move.from and move.to"
    body = raw["move"]
    directories = "toDirectory" in body or "fromDirectory" in body
    if not directories and body.get("from", "source") == body.get("to", "target"):
        yield f"{label}, key move: from and to are the same cluster"
    if "fromDirectory" in body and body["fromDirectory"] not in known.backups:
        yield (
            f"{label}, key move.fromDirectory: no earlier step writes backup "
            f"'{body['fromDirectory']}' (a move with toDirectory does)"
        )
    namespaces = {v for v in known.variables if re.fullmatch(r"namespace\d*", v)}
    for number, entry in enumerate(body.get("namespaces") or ()):
        whole = templating.PLACEHOLDER.fullmatch(entry.strip())
        if whole and re.fullmatch(r"namespace\d*", whole.group(1)):
            continue  # known, or already reported as an unknown variable
        if not whole or whole.group(1) not in namespaces:
            yield (
                f"{label}, key move.namespaces[{number}]: {entry!r} is not one of the "
                f"scenario's namespaces; write one of "
                f"{', '.join('{{ ' + v + ' }}' for v in sorted(namespaces))}"
            )


def _refused_problems(label: str, action: str, body: Any) -> Iterator[str]:
    if action not in ("apply", "patch"):
        yield f"{label}, key refused: only an apply or a patch can be refused, not a {action}"
    elif action == "apply" and (
        len(manifests.entries(body)) != 1
        or any(
            isinstance(e, dict) and ("file" in e or manifests.SHORTHAND in e)
            for e in manifests.entries(body)
        )
    ):
        yield (
            f"{label}, key refused: a refused apply names exactly one object, written inline "
            "(the API server's words are those of one object)"
        )


def _controller_problems(label: str, body: Any) -> Iterator[str]:
    args = (body.get("args") or []) if isinstance(body, dict) else []
    for number, arg in enumerate(args):
        flag = arg.split("=", 1)[0]
        if flag in HARNESS_FLAGS:
            yield (
                f"{label}, key controller.args[{number}]: {flag} is the harness's to set: "
                f"{HARNESS_FLAGS[flag]}"
            )
