"""Kubernetes Events about our objects: queued and posted in the background, never in the way.

An Event is a courtesy to the user, so posting one never delays an allocation and a
failure to post is logged, not raised. Events go to core/v1 (``""`` API group).

Routine news is aggregated the way Kubernetes' own event recorder does it: news of one
reason about one object is one Event whose ``count`` grows, not a new Event each time. A
thousand allocations from one pool make one Event on the pool ("Allocated 1000
addresses: ..."), created at the end of the first window and then patched: at most once
per bump interval, which doubles while the news keeps coming (a long burst costs a few
writes, not one per window). Ten minutes without news end the series; the next news starts
a new Event. Problems are posted on the object they are about, once per distinct message
(the callers keep track).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable
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
"""Seconds over which routine news about one object is gathered before its Event is written."""
TALLY_EXAMPLES = 10
"""At most this many items are named in a tallied Event."""
BUMP_CAP = 60.0
"""Longest wait, in seconds, between two writes of one aggregated Event while news comes."""
SERIES_IDLE = 600.0
"""Seconds without news after which an aggregated Event is left alone (Kubernetes' own
event aggregation uses the same ten minutes)."""

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


def _clip(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


def event_body(event: Event, *, instance: str) -> dict[str, Any]:
    meta = event.involved.meta
    now = _now()
    message = _clip(event.message)
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


@dataclass
class Series:
    """One aggregated Event: news of one reason about one object, counted."""

    involved: Involved
    reason: str
    noun: str
    examples: list[str]
    count: int = 0
    """Items told so far (the Event's ``count`` once written)."""
    written: int = 0
    """Items the Event on the server counts."""
    name: str | None = None
    """The Event's name once created."""
    first_seen: str = ""
    last_news: float = 0.0
    last_write: float = 0.0
    interval: float = 0.0
    busy: bool = False
    """A write of it is queued or in flight."""

    def message(self) -> str:
        shown = ", ".join(self.examples)
        more = (
            f" and {self.count - len(self.examples)} more"
            if self.count > len(self.examples)
            else ""
        )
        return f"{self.reason} {self.count} {self.noun}: {shown}{more}"


@dataclass(frozen=True)
class Bump:
    """Write a series' count: create its Event, or patch the one created before."""

    series: Series
    count: int


class Recorder:
    """Accepts Events at once and posts them from a few background tasks."""

    def __init__(
        self,
        api: client.Client,
        *,
        instance: str,
        window: float = TALLY_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.instance = instance
        self.window = window
        self.clock = clock
        self.queue: asyncio.Queue[Event | Bump] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.tasks: list[asyncio.Task[None]] = []
        self.series: dict[tuple[str, str], Series] = {}
        """(uid, reason) -> the aggregated Event of that news."""

    def record(self, involved: Involved, type_: EventType, reason: str, message: str) -> None:
        if not involved.meta.namespace or not involved.meta.name:
            return
        self._put(Event(involved, type_, reason, message))

    def _put(self, item: Event | Bump) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            what = item if isinstance(item, Event) else item.series
            logger.warning(
                "Event queue full; dropped %s on %s", what.reason, what.involved.meta.name
            )
            return False
        return True

    def tally(self, involved: Involved, reason: str, noun: str, item: str) -> None:
        """Count one piece of routine news; one Normal Event, counted, says them all.

        ``noun`` names what is counted in the plural ("addresses"); ``item`` says this one
        ("10.0.0.5 to IPClaim c1").
        """
        if not involved.meta.namespace or not involved.meta.name:
            return
        now = self.clock()
        key = (involved.meta.uid or involved.meta.name, reason)
        found = self.series.get(key)
        if found is None or (now - found.last_news > SERIES_IDLE and not found.busy):
            found = Series(involved, reason, noun, [], first_seen=_now(), interval=self.window)
            self.series[key] = found
        found.count += 1
        found.last_news = now
        if len(found.examples) < TALLY_EXAMPLES:
            found.examples.append(item)

    def flush(self, *, force: bool = False) -> None:
        """Queue a write of every series with news its Event does not count yet, when its
        interval has passed (``force``: at once, as when stopping)."""
        now = self.clock()
        for key, series in list(self.series.items()):
            if series.busy:
                continue
            if series.count == series.written:
                if now - series.last_news > SERIES_IDLE:
                    del self.series[key]
                continue
            if series.name is not None and not force and now - series.last_write < series.interval:
                continue
            if series.name is not None:
                series.interval = min(series.interval * 2, BUMP_CAP)
            series.last_write = now
            series.busy = self._put(Bump(series, series.count))

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
        self.flush(force=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=drain_timeout)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def _post_forever(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, Bump):
                    await self._write_series(item)
                else:
                    body = event_body(item, instance=self.instance)
                    await self.api.create_event(item.involved.meta.namespace, body)
            except client.KubeError as err:
                logger.info(
                    "Could not post Event %s on %s: %s",
                    item.reason if isinstance(item, Event) else item.series.reason,
                    item.involved.meta.name
                    if isinstance(item, Event)
                    else item.series.involved.meta.name,
                    err,
                )
            except Exception:  # an Event must never take the controller down
                logger.exception("Could not post Event")
            finally:
                if isinstance(item, Bump):
                    item.series.busy = False
                self.queue.task_done()

    async def _write_series(self, bump: Bump) -> None:
        """Patch the series' Event with its count; create it when there is none (any more)."""
        series = bump.series
        namespace = series.involved.meta.namespace
        message = _clip(series.message())
        if series.name is not None:
            patch = {"count": bump.count, "message": message, "lastTimestamp": _now()}
            if await self.api.patch_event(namespace, series.name, patch):
                series.written = bump.count
                return
        event = Event(series.involved, "Normal", series.reason, message)
        body = event_body(event, instance=self.instance)
        body.update(count=bump.count, firstTimestamp=series.first_seen or body["firstTimestamp"])
        created = await self.api.create_event(namespace, body)
        series.name = str(((created or {}).get("metadata") or {}).get("name") or "") or None
        series.written = bump.count
