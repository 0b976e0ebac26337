"""A scenario as facts: frozen dataclasses built from a validated file, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIONS = (
    "apply",
    "delete",
    "patch",
    "generate",
    "wait",
    "expect",
    "controller",
    "restart",
    "move",
    "snapshot",
    "capture",
    "sleep",
)
"""The action keys of a step; every step has exactly one."""

INVARIANTS = (
    "no-duplicate-addresses",
    "bound-claims-have-addresses",
    "no-orphan-addresses",
    "addresses-inside-pools",
)
"""The checks run after every scenario, by the name a scenario uses to skip one."""

DEFAULT_CLUSTER = "source"
DEFAULT_SETTLE = 15.0


@dataclass(frozen=True)
class Step:
    """One step: its position, its action and that action's body, as written."""

    index: int
    action: str
    body: Any
    cluster: str = DEFAULT_CLUSTER
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def title(self) -> str:
        """``step 3 "move the cluster" (move)``: numbered from 1, as people count."""
        named = f' "{self.name}"' if self.name else ""
        if self.action == "move":
            where = f"{self.body.get('from', 'source')} to {self.body.get('to', 'target')}"
        else:
            where = f"cluster {self.cluster}"
        return f"step {self.index + 1}{named} ({self.action}, {where})"


@dataclass(frozen=True)
class Skip:
    """An invariant a scenario opts out of, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file."""

    path: Path
    name: str
    description: str
    steps: tuple[Step, ...]
    tags: tuple[str, ...] = ()
    skip: tuple[Skip, ...] = ()
    settle: float = DEFAULT_SETTLE

    @property
    def checked_invariants(self) -> tuple[str, ...]:
        skipped = {s.name for s in self.skip}
        return tuple(name for name in INVARIANTS if name not in skipped)
