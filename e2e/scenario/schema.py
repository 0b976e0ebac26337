"""scenarios/scenario.schema.json defines the format; this turns its verdicts into sentences.

Each problem names the step (number, name, action) and the key, so a reader can go
straight to the line: ``step 2 "wait for the claim" (wait), key wait.timeout: -1 is
less than or equal to the minimum of 0``.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from e2e.scenario.model import ACTIONS

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "scenarios" / "scenario.schema.json"


@functools.cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, as readable sentences (empty when valid)."""
    errors = sorted(validator().iter_errors(document), key=lambda e: [str(p) for p in e.path])
    found: list[str] = []
    for error in errors:
        for line in _explain(error, document):
            if line not in found:
                found.append(line)
    return found


def where(path: Sequence[Any], document: Any) -> str:
    """``step 2 "name" (wait), key wait.timeout`` for a path into the document.

    A step of a background block is numbered after its block: ``step 3.2 (apply)``.
    """
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        rest = list(path[2:])
        inner = rest[:2] == ["background", "steps"] and len(rest) >= 3 and isinstance(rest[2], int)
        if inner:
            label = step_label(document, path[1], rest[2])
            rest = rest[3:]
        else:
            label = step_label(document, path[1])
        return f"{label}, key {key_path(rest)}" if rest else label
    return f"key {key_path(list(path))}" if path else "the document"


def step_label(document: Any, index: int, inner: int | None = None) -> str:
    """``step 3 "name" (action)``, or ``step 3.2 ...`` for step ``inner`` of block ``index``."""
    step = document["steps"][index] if _has_step(document, index) else {}
    number = f"{index + 1}"
    if inner is not None:
        block = step.get("background") if isinstance(step, dict) else None
        steps = block.get("steps") if isinstance(block, dict) else None
        has = isinstance(steps, list) and 0 <= inner < len(steps)
        step = steps[inner] if has else {}  # type: ignore[index]
        number += f".{inner + 1}"
    name = step.get("name") if isinstance(step, dict) else None
    actions = [a for a in ACTIONS if isinstance(step, dict) and a in step]
    label = f"step {number}"
    if isinstance(name, str) and name:
        label += f' "{name}"'
    if len(actions) == 1:
        label += f" ({actions[0]})"
    return label


def key_path(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _has_step(document: Any, index: int) -> bool:
    steps = document.get("steps") if isinstance(document, dict) else None
    return isinstance(steps, list) and 0 <= index < len(steps)


def _explain(error: ValidationError, document: Any) -> Iterable[str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for extra in sorted(set(error.instance) - set(allowed)):
            hint = difflib.get_close_matches(str(extra), allowed, n=1)
            also = f" (did you mean '{hint[0]}'?)" if hint else f"; allowed: {', '.join(allowed)}"
            yield f"{where([*path, extra], document)}: unknown key '{extra}'{also}"
        return
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        for key in missing:
            yield f"{where([*path, key], document)}: missing key '{key}'"
        return
    if error.validator == "not":
        said = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
        yield f"{where(path, document)}: {said or f'{error.instance!r} is reserved here'}"
        return
    if error.validator in ("oneOf", "anyOf"):
        yield from _explain_choice(error, path, document)
        return
    yield f"{where(path, document)}: {error.message}"


def _explain_choice(error: ValidationError, path: list[Any], document: Any) -> Iterable[str]:
    """oneOf/anyOf: either "exactly one of these keys", or the branch the value meant."""
    branches = error.validator_value
    keys = [b["required"][0] for b in branches if list(b) == ["required"]]
    if len(keys) == len(branches) and isinstance(error.instance, dict):
        present = [k for k in keys if k in error.instance]
        what = "action" if set(keys) == set(ACTIONS) else "key"
        if not present and set(error.instance) - set(error.schema.get("properties", keys)):
            return  # an unknown key is already reported, with a did-you-mean hint
        if error.validator == "oneOf" and present:
            yield f"{where(path, document)}: give only one {what} of {', '.join(present)}"
        else:
            need = "one" if error.validator == "oneOf" else "at least one"
            yield f"{where(path, document)}: needs {need} {what} among {', '.join(keys)}"
        return
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    meant = [
        subs
        for subs in by_branch.values()
        if not any(s.validator == "type" and s.absolute_path == error.absolute_path for s in subs)
    ]
    if len(meant) == 1:
        for sub in meant[0]:
            yield from _explain(sub, document)
        return
    yield f"{where(path, document)}: {error.message}"
