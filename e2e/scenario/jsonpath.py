"""A small JSONPath: the subset kubectl users write, evaluated the same way on any object.

Supported: ``.key``, ``['key.with.dots']``, ``[N]``, ``[*]`` and the filter
``[?(@.a.b=="value")]`` (also ``!=``); braces as in ``{.status.x}`` are accepted and
ignored. A path selects a list of values; an empty list means "nothing there".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""
    \.(?P<key>[A-Za-z0-9_\-/]+)
  | \[(?P<quote>['"])(?P<qkey>.*?)(?P=quote)\]
  | \[(?P<index>-?\d+)\]
  | \[(?P<star>\*)\]
  | \[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_\-]+)+)\s*(?P<op>==|!=)\s*
      (?P<fvalue>"[^"]*"|'[^']*'|[^)\s]+)\s*\)\]
    """,
    re.VERBOSE,
)


class PathError(ValueError):
    """The path is not in the supported subset; the message says where."""


@dataclass(frozen=True)
class Filter:
    path: tuple[str, ...]
    op: str
    value: Any


Segment = str | int | None | Filter
"""A key, an index, None for ``[*]``, or a filter."""


def parse(path: str) -> tuple[Segment, ...]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if text and not text.startswith((".", "[")):
        text = "." + text
    segments: list[Segment] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise PathError(f"cannot read {path!r} at {text[position:]!r}")
        segments.append(_segment(match))
        position = match.end()
    return tuple(segments)


def _segment(match: re.Match[str]) -> Segment:
    if match.group("key") is not None:
        return match.group("key")
    if match.group("qkey") is not None:
        return match.group("qkey")
    if match.group("index") is not None:
        return int(match.group("index"))
    if match.group("star") is not None:
        return None
    raw = match.group("fvalue")
    value: Any = raw[1:-1] if raw[0] in "'\"" else json.loads(raw)
    return Filter(tuple(match.group("fpath").split(".")[1:]), match.group("op"), value)


def select(document: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``document``."""
    current = [document]
    for segment in parse(path):
        current = [found for value in current for found in _step(value, segment)]
    return current


def _step(value: Any, segment: Segment) -> list[Any]:
    if isinstance(segment, str):
        return [value[segment]] if isinstance(value, dict) and segment in value else []
    if isinstance(segment, int):
        if isinstance(value, list) and -len(value) <= segment < len(value):
            return [value[segment]]
        return []
    items = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(items, list):
        return []
    if segment is None:
        return items
    return [item for item in items if _passes(item, segment)]


def _passes(item: Any, condition: Filter) -> bool:
    found: Any = item
    for key in condition.path:
        if not isinstance(found, dict) or key not in found:
            return condition.op == "!="
        found = found[key]
    equal: bool = found == condition.value
    return equal == (condition.op == "==")
