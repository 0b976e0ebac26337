"""One type's objects as a stream of events: a List, then a Watch resumed where it stopped.

Listed objects come with the event type ``None``, then ``ADDED``, ``MODIFIED`` and
``DELETED`` in the server's order, each object a plain dict as the server sent it, less
its ``managedFields``. A watch the server ends is resumed from the last resourceVersion seen (bookmarks included); one it
answers with 410 Gone (too old) starts over with a List. A server that cannot be reached,
or refuses, is asked again after a pause: the stream ends only when its task is cancelled.
The handler is called in order and must not block; what it raises is logged, and the
stream goes on. A stream may start from the resourceVersion of a List read before
(:func:`list_all`), without a List of its own, and may be told when each of its Lists is
complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ipam.kube import client
from ipam.kube.resources import Resource

logger = logging.getLogger(__name__)

Handler = Callable[[str | None, dict[str, Any]], None]


class Pages(Protocol):
    """What a List is read through (:meth:`ipam.kube.client.Client.list_page`)."""

    async def list_page(
        self, resource: Resource, namespace: str | None, token: str | None = None
    ) -> client.Body: ...


WATCH_TIMEOUT = 300
"""Seconds the server keeps one Watch open before it ends it (and it is resumed)."""
RETRY_PAUSE = 2.0
"""Seconds before asking again after a failed List or Watch."""


async def run(
    api: client.Client,
    resource: Resource,
    namespace: str | None,
    handler: Handler,
    *,
    since: str | None = None,
    listed: Callable[[], None] | None = None,
    server_timeout: int = WATCH_TIMEOUT,
    retry: float = RETRY_PAUSE,
) -> None:
    """List (unless ``since`` says where an earlier List ended), then watch, forever (until
    cancelled); ``listed`` is called after each List has handed every object over."""
    version: str | None = since or None
    where = f"{resource}" + (f" in {namespace}" if namespace else "")
    while True:
        try:
            if version is None:
                version = await list_all(api, resource, namespace, handler)
                if listed is not None:
                    listed()
            version = await follow(api, resource, namespace, version, handler, server_timeout)
        except client.Expired:
            logger.debug("Watch of %s: its resourceVersion expired; listing again.", where)
            version = None
        except client.KubeError as err:
            logger.warning("Watch of %s: %s; trying again in %.0fs.", where, err, retry)
            await asyncio.sleep(retry)
        except Exception:
            logger.exception("Watch of %s failed; trying again in %.0fs.", where, retry)
            version = None
            await asyncio.sleep(retry)


async def list_all(
    api: Pages,
    resource: Resource,
    namespace: str | None,
    handler: Handler,
    *,
    between_pages: Callable[[], Awaitable[None]] | None = None,
) -> str:
    """Hand every listed object over; returns the List's resourceVersion.

    Without ``between_pages`` the next page is asked for as soon as the current one has
    come, and the current one is handed over while the server prepares the next (a slice
    at a time, so that its answer is read meanwhile): a List of many pages then takes about
    as long as the server alone needs, not that plus the handler's time. At most two pages
    are held at a time. With ``between_pages``, only one page is held, and it is awaited
    before each next page is asked for (a reader that queues work can let it drain first).
    """
    page = await api.list_page(resource, namespace, None)
    while True:
        meta = page.get("metadata") or {}
        token: str | None = meta.get("continue") or None
        version = str(meta.get("resourceVersion") or "")
        items = page.get("items") or []
        del page
        if token is None:
            _hand_over(handler, items, resource)
            return version
        if between_pages is not None:
            _hand_over(handler, items, resource)
            del items
            await between_pages()
            page = await api.list_page(resource, namespace, token)
            continue
        ahead = asyncio.ensure_future(api.list_page(resource, namespace, token))
        try:
            for start in range(0, len(items), HAND_OVER_SLICE):
                await asyncio.sleep(0)  # the next page's request and answer move on
                _hand_over(handler, items[start : start + HAND_OVER_SLICE], resource)
            del items
            page = await ahead
        finally:
            if not ahead.done():
                ahead.cancel()  # this List is given up (cancelled): so is its next page
            elif not ahead.cancelled():
                ahead.exception()  # its failure, if any, is raised by ``await`` or moot


HAND_OVER_SLICE = 50
"""Listed objects handed over between two turns of the event loop while the next page
comes (about a millisecond or two of handler time)."""


def _hand_over(handler: Handler, items: list[dict[str, Any]], resource: Resource) -> None:
    for item in items:
        _deliver(handler, None, item, resource)


async def follow(
    api: client.Client,
    resource: Resource,
    namespace: str | None,
    version: str,
    handler: Handler,
    server_timeout: int,
) -> str:
    """Hand every event over until the server ends the Watch; returns where to resume."""
    events = api.watch(resource, namespace, version, server_timeout=server_timeout)
    async with contextlib.aclosing(events):  # its connection is let go at once, whatever ends it
        async for event in events:
            kind = event.get("type")
            body = event.get("object") or {}
            if kind == "ERROR":
                code = body.get("code")
                if code == 410:
                    raise client.Expired(str(body.get("message") or "Gone"), status=410)
                raise client.KubeError(str(body.get("message") or body), status=code)
            found = (body.get("metadata") or {}).get("resourceVersion")
            if found:
                version = str(found)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                _deliver(handler, kind, body, resource)
    return version


def _deliver(handler: Handler, kind: str | None, body: dict[str, Any], resource: Resource) -> None:
    # Listed items lack apiVersion and kind: they are the List's, filled in as a watch has them.
    body.setdefault("apiVersion", resource.api_version)
    body.setdefault("kind", resource.kind)
    client.drop_field_ownership(body)
    try:
        handler(kind, body)
    except Exception:
        meta = body.get("metadata") or {}
        logger.exception(
            "%s %s/%s: its %s event could not be handled.",
            resource.kind,
            meta.get("namespace"),
            meta.get("name"),
            kind or "listed",
        )
