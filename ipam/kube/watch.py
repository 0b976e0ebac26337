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

    Only one page is held at a time; ``between_pages``, if given, is awaited before each
    next page is asked for (a reader that queues work can let it drain first).
    """
    token: str | None = None
    while True:
        page = await api.list_page(resource, namespace, token)
        for item in page.get("items") or []:
            _deliver(handler, None, item, resource)
        meta = page.get("metadata") or {}
        token = meta.get("continue") or None
        if not token:
            return str(meta.get("resourceVersion") or "")
        del page
        if between_pages is not None:
            await between_pages()


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
