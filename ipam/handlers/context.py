"""What every reconcile needs, in one object: the API, the in-memory state, events and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ipam.handlers import metrics, state
from ipam.kube import bodies, client, events, resources

logger = logging.getLogger("ipam")


@dataclass(frozen=True)
class Options:
    """Tunables of the controller (the CLI sets them; tests shorten them)."""

    resync_period: float = 60.0
    """Seconds between two full re-alignments with fresh Lists of every IPAddress and pool."""
    rebind_grace: float = 10.0
    """Seconds a claim that already carries our finalizer, but holds nothing, waits for its
    IPAddress to show up (after a move, objects arrive out of order) before a new one is made."""
    status_delay: float = 0.5
    """Seconds to gather changes before one pool status write."""
    retry_delay: float = 0.1
    """Seconds to gather freed addresses before waiting claims are retried."""
    error_retry: float = 5.0
    """Seconds before a reconcile that hit an API error runs again."""
    concurrency: int = 64
    """Claims reconciled at once. A burst of thousands then moves through in a pipeline:
    each claim is finished (finalizer, address, status) before most others start, instead
    of thousands of requests queueing at once for the same few connections."""


@dataclass
class Context:
    api: client.Client
    registry: state.Registry
    recorder: events.Recorder
    metrics: metrics.Metrics
    options: Options = Options()
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.options.concurrency)

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run in the background; the task is kept (not garbage-collected) and its crash logged."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Background task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- events ----------------------------------------------------------------------------

    def event_on_claim(
        self, claim: bodies.ClaimRecord, type_: events.EventType, reason: str, message: str
    ) -> None:
        resource = claim.flavour.claim
        self.recorder.record(
            events.Involved(resource.api_version, resource.kind, claim.meta), type_, reason, message
        )

    def event_on_pool(
        self, pool: bodies.PoolRecord, type_: events.EventType, reason: str, message: str
    ) -> None:
        self.recorder.record(
            events.Involved(resources.IPPOOL.api_version, resources.IPPOOL.kind, pool.meta),
            type_,
            reason,
            message,
        )
