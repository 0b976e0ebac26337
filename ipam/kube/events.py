"""Kubernetes Events about our objects: queued and posted in the background, never in the way.

An Event is a courtesy to the user, so posting one never delays an allocation and a
failure to post is logged, not raised. Events go to core/v1 (``""`` API group).

Routine news is tallied, not posted one by one: a thousand allocations from one pool make
one Event on the pool per window ("Allocated 1000 addresses: ..."), not a thousand writes.
Problems are posted on the object they are about, once per distinct message (the callers
keep track).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from dataclasses import dataclass
from typing import Any, Literal

from ipam.kube import bodies, client

logger = logging.getLogger(__name__)

COMPONENT = "capi-ipam"
MAX_MESSAGE = 1024
QUEUE_LIMIT = 10_000
POSTERS = 4
"""Events posted at once: a burst of allocations must not leave its Events minutes behind."""
TALLY_WINDOW = 5.0
"""Seconds over which routine news about one object is gathered into one Event."""
TALLY_EXAMPLES = 10
"""At most this many items are named in a tallied Event."""

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Involved:
    """The object an Event is about."""

    api_version: str
    kind: str
    meta: bodies.Meta


@dataclass(frozen=True)
class Event:
    involved: Involved
    type: EventType
    reason: str
    message: str


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(event: Event, *, instance: str) -> dict[str, Any]:
    meta = event.involved.meta
    now = _now()
    message = (
        event.message
        if len(event.message) <= MAX_MESSAGE
        else event.message[: MAX_MESSAGE - 3] + "..."
    )
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.name}.", "namespace": meta.namespace},
        "involvedObject": {
            "apiVersion": event.involved.api_version,
            "kind": event.involved.kind,
            "name": meta.name,
            "namespace": meta.namespace,
            "uid": meta.uid,
        },
        "reason": event.reason,
        "message": message,
        "type": event.type,
        "source": {"component": COMPONENT},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "action": event.reason,
    }


class Recorder:
    """Accepts Events at once and posts them from a few background tasks."""

    def __init__(self, api: client.Client, *, instance: str, window: float = TALLY_WINDOW) -> None:
        self.api = api
        self.instance = instance
        self.window = window
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.tasks: list[asyncio.Task[None]] = []
        self.tallies: dict[tuple[str, str], tuple[Involved, str, list[str]]] = {}
        """(uid, reason) -> (object, what is counted, items), until the next flush."""

    def record(self, involved: Involved, type_: EventType, reason: str, message: str) -> None:
        if not involved.meta.namespace or not involved.meta.name:
            return
        try:
            self.queue.put_nowait(Event(involved, type_, reason, message))
        except asyncio.QueueFull:
            logger.warning(
                "Event queue full; dropped %s %s on %s", type_, reason, involved.meta.name
            )

    def tally(self, involved: Involved, reason: str, noun: str, item: str) -> None:
        """Count one piece of routine news; one Normal Event per window says them all.

        ``noun`` names what is counted in the plural ("addresses"); ``item`` says this one
        ("10.0.0.5 to IPClaim c1").
        """
        key = (involved.meta.uid or involved.meta.name, reason)
        found = self.tallies.get(key)
        if found is None:
            self.tallies[key] = (involved, noun, [item])
        else:
            found[2].append(item)

    def flush(self) -> None:
        """Queue one Event per tallied (object, reason)."""
        tallies, self.tallies = self.tallies, {}
        for (_, reason), (involved, noun, items) in tallies.items():
            shown = ", ".join(items[:TALLY_EXAMPLES])
            more = f" and {len(items) - TALLY_EXAMPLES} more" if len(items) > TALLY_EXAMPLES else ""
            self.record(involved, "Normal", reason, f"{reason} {len(items)} {noun}: {shown}{more}")

    def start(self) -> None:
        if not self.tasks:
            self.tasks = [
                asyncio.create_task(self._post_forever(), name=f"event-poster-{n}")
                for n in range(POSTERS)
            ]
            self.tasks.append(asyncio.create_task(self._flush_forever(), name="event-tally"))

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.window)
            self.flush()

    async def stop(self, *, drain_timeout: float = 2.0) -> None:
        if not self.tasks:
            return
        self.flush()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=drain_timeout)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def _post_forever(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                body = event_body(event, instance=self.instance)
                await self.api.create_event(event.involved.meta.namespace, body)
            except client.KubeError as err:
                logger.info(
                    "Could not post Event %s on %s: %s", event.reason, event.involved.meta.name, err
                )
            except Exception:  # an Event must never take the controller down
                logger.exception("Could not post Event %s", event.reason)
            finally:
                self.queue.task_done()
