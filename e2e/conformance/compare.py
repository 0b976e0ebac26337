"""Two snapshots in, every place where they differ out; pure, so its own tests can feed it.

A difference is located by object (``Kind/name``) and path (``.status.errorMessage``,
``.metadata.labels['cluster.x-k8s.io/cluster-name']``); mappings are compared key by key,
anything else (lists included) as a whole. A side that lacks the value shows
:data:`ABSENT`. An object only one side has differs at the path ``""``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from e2e.conformance.observe import Snapshot

ABSENT = "<absent>"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class Difference:
    """One value that is not the same on both sides, after one step of one case."""

    case: str
    step: str
    object: str
    path: str
    upstream: Any
    ours: Any

    @property
    def kind(self) -> str:
        return self.object.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.object.split("/", 1)[1]


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}['{key}']"


def diff_values(upstream: Any, ours: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(path, upstream, ours)`` for every differing leaf; mappings are entered."""
    if isinstance(upstream, dict) and isinstance(ours, dict):
        found = []
        for key in sorted(set(upstream) | set(ours), key=str):
            found += diff_values(
                upstream.get(key, ABSENT), ours.get(key, ABSENT), _child(path, str(key))
            )
        return found
    if upstream == ours:
        return []
    return [(path, upstream, ours)]


def diff_snapshots(case: str, step: str, upstream: Snapshot, ours: Snapshot) -> list[Difference]:
    found = []
    for key in sorted(set(upstream) | set(ours)):
        for path, up, our in diff_values(upstream.get(key, ABSENT), ours.get(key, ABSENT)):
            found.append(Difference(case, step, key, path, up, our))
    return found
