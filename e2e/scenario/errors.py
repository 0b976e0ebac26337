"""The scenario error tree; each carries what its reader needs to act, nothing more.

ScenarioError
├── FormatError      the file is not a valid scenario (collection time)
├── Mismatch         a condition does not hold: expected beside found
├── MoveFailed       clusterctl move exited with an error (what it printed)
└── Stopped          a step gave up because another step failed first
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ScenarioError(Exception):
    """Base of every error the scenario runner raises on purpose."""


class FormatError(ScenarioError):
    """A scenario file is malformed; the message names the file, the step and the key."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: not a valid scenario:\n{lines}")


@dataclass
class Mismatch(ScenarioError):
    """A condition that does not hold: what, where, expected beside found."""

    summary: str
    expected: Any = None
    found: Any = None
    path: str = ""
    """Where the first difference is, as a JSONPath-like ``.spec.pools[0].start``."""

    def __post_init__(self) -> None:
        super().__init__(self.summary)

    def __str__(self) -> str:
        return self.summary


class MoveFailed(ScenarioError):
    """clusterctl move exited with an error or timed out; the message is what it printed."""


class Stopped(ScenarioError):
    """A step gave up because another step of the scenario failed first."""
