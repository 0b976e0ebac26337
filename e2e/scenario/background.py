"""Background blocks: each runs its steps in a thread of its own while the foreground goes on.

The rules a scenario author can rely on:

- A ``background`` step starts its block and returns at once; the block runs its steps in
  order, one at a time.
- A block ends when its last step is done. ``join: ID`` waits for that; every block not
  joined yet is joined after the last step, before the invariants.
- The first step that fails, in any block or in the foreground, fails the scenario and
  stops everything else: each other block stops before its next step, and a running
  ``wait``, ``expect: unchanged`` or ``sleep`` stops at its next poll. A step that is one
  call (an apply, a move) finishes first. The failure report names every failed step
  and every step that was stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from e2e.scenario.errors import Mismatch, Stopped
from e2e.scenario.model import Step
from e2e.scenario.run import Run

JOIN_GRACE = 60.0
"""How long the harness waits for a block's current step after an interruption it did not
cause (pytest's timeout, Ctrl-C, a skip); a block still running then is left to its
thread, which stops before its next step."""


@dataclass
class StepFailure:
    """One step that failed, or that was stopped because another one failed."""

    step: Step
    mismatch: Mismatch | None = None
    error: BaseException | None = None
    stopped: bool = False
    at: float = field(default_factory=time.monotonic)


Execute = Callable[[Run, Step], "StepFailure | None"]


class Block:
    """One background block: its thread and how it ended."""

    def __init__(self, run: Run, step: Step, execute: Execute) -> None:
        self.run = run
        self.step = step
        self.execute = execute
        self.outcome: StepFailure | None = None
        self.thread = threading.Thread(
            target=self._main, name=f"background {step.body['id']}", daemon=True
        )

    @property
    def id(self) -> str:
        return str(self.step.body["id"])

    def _main(self) -> None:
        try:
            for step in self.step.steps:
                if self.run.stopping.is_set():
                    self.outcome = StepFailure(step, error=Stopped("not started"), stopped=True)
                    return
                failure = self.execute(self.run, step)
                if failure is not None:
                    self.outcome = failure
                    if not failure.stopped:
                        self.run.stopping.set()
                    return
        except BaseException as error:  # a thread must not die silently
            self.outcome = StepFailure(self.step, error=error)
            self.run.stopping.set()


class Blocks:
    """The background blocks of one run, by id."""

    def __init__(self, run: Run, execute: Execute) -> None:
        self.run = run
        self.execute = execute
        self.blocks: dict[str, Block] = {}

    def start(self, step: Step) -> None:
        block = Block(self.run, step, self.execute)
        self.blocks[block.id] = block
        block.thread.start()

    def join(self, ids: list[str]) -> None:
        """Wait until each named block has run (or given up); a stop interrupts the wait."""
        for block_id in ids:
            block = self.blocks[block_id]
            while block.thread.is_alive():
                block.thread.join(timeout=0.1)
                if self.run.stopping.is_set():
                    return

    def join_all(self, *, grace: float | None = None) -> None:
        """Wait for every block; with ``grace``, give up on a block after that many seconds."""
        deadline = None if grace is None else time.monotonic() + grace
        for block in self.blocks.values():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            block.thread.join(timeout=left)

    def outcomes(self) -> list[StepFailure]:
        """How the blocks that did not finish cleanly ended."""
        return [b.outcome for b in self.blocks.values() if b.outcome is not None]
