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
    "background",
    "join",
    "peer",
)
"""The action keys of a step; every step has exactly one."""

PEERS_MARKER = "peers"
"""The marker of every scenario with a ``peer`` step: it runs upstream programs that
``make peers`` builds, so it is deselected unless pytest runs with ``--peers``."""

INVARIANTS = (
    "no-duplicate-addresses",
    "bound-claims-have-addresses",
    "no-orphan-addresses",
    "addresses-inside-pools",
    "allocations-carry-finalizers",
)
"""The checks run after every scenario, by the name a scenario uses to skip one."""

DEFAULT_CLUSTER = "source"
DEFAULT_SETTLE = 15.0
DEFAULT_MOVE_TIMEOUT = 300.0
MAX_NAMESPACES = 5


def namespace_variables(count: int) -> tuple[str, ...]:
    """``namespace``, ``namespace2``, ... : the template names of a scenario's namespaces."""
    return ("namespace", *(f"namespace{n}" for n in range(2, count + 1)))


@dataclass(frozen=True)
class Step:
    """One step: its position, its action and that action's body, as written.

    A ``background`` step holds the steps of its block in ``steps``; those carry the
    block's id in ``block`` and the position of the background step in ``parent``.
    """

    index: int
    action: str
    body: Any
    cluster: str = DEFAULT_CLUSTER
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    block: str = ""
    parent: int | None = None
    steps: tuple[Step, ...] = ()
    refused: tuple[str, ...] = ()
    """With ``apply`` or ``patch``: the API server must refuse the write in these words."""

    @property
    def number(self) -> str:
        """``3``, or ``3.2`` for the second step of the block started by step 3."""
        if self.parent is None:
            return str(self.index + 1)
        return f"{self.parent + 1}.{self.index + 1}"

    @property
    def title(self) -> str:
        """``step 3 "move the cluster" (move, source to target)``: numbered from 1."""
        named = f' "{self.name}"' if self.name else ""
        if self.action == "move":
            where = move_route(self.body)
        elif self.action == "background":
            where = f"block {self.body['id']}"
        elif self.action == "join":
            ids = self.body if isinstance(self.body, list) else [self.body]
            where = ", ".join(ids)
        else:
            where = f"cluster {self.cluster}"
        inside = f", in background block {self.block}" if self.block else ""
        return f"step {self.number}{named} ({self.action}, {where}{inside})"


def move_route(body: dict[str, Any]) -> str:
    """``source to target``, ``source to directory b1`` or ``directory b1 to target``."""
    if "toDirectory" in body:
        return f"{body.get('from', 'source')} to directory {body['toDirectory']}"
    if "fromDirectory" in body:
        return f"directory {body['fromDirectory']} to {body.get('to', 'target')}"
    return f"{body.get('from', 'source')} to {body.get('to', 'target')}"


def peer_body(body: str | dict[str, Any]) -> dict[str, Any]:
    """A ``peer`` step's body in full: ``capm3`` is ``{name: capm3, action: start}``."""
    full = {"name": body} if isinstance(body, str) else dict(body)
    full.setdefault("action", "start")
    return full


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
    namespaces: int = 1
    move_timeout: float = DEFAULT_MOVE_TIMEOUT

    @property
    def peers(self) -> tuple[str, ...]:
        """The upstream programs its ``peer`` steps start, in order of first use."""
        names: list[str] = []
        for step in self.steps:
            if step.action == "peer":
                name = peer_body(step.body)["name"]
                if name not in names:
                    names.append(name)
        return tuple(names)

    @property
    def checked_invariants(self) -> tuple[str, ...]:
        skipped = {s.name for s in self.skip}
        return tuple(name for name in INVARIANTS if name not in skipped)
