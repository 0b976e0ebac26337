"""A List read page by page: every object handed over once and in order, the next page
asked for while the current one is handed over, and nothing left running when it fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ipam.kube import client, resources, watch
from ipam.kube.resources import Resource


class Pages:
    """Pages of named objects, answered after ``delay`` seconds each; every step is logged."""

    def __init__(self, pages: list[list[str]], *, delay: float = 0.0, fail_at: int = -1) -> None:
        self.pages = pages
        self.delay = delay
        self.fail_at = fail_at
        self.log: list[str] = []
        self.cancelled: list[int] = []

    async def list_page(
        self, resource: Resource, namespace: str | None, token: str | None = None
    ) -> client.Body:
        index = int(token) if token else 0
        self.log.append(f"ask {index}")
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.append(index)
            raise
        if index == self.fail_at:
            raise client.KubeError("the server gave up", status=500)
        more = index + 1 < len(self.pages)
        meta: dict[str, Any] = {"resourceVersion": f"v{index}"}
        if more:
            meta["continue"] = str(index + 1)
        items = [{"metadata": {"name": name, "namespace": "ns"}} for name in self.pages[index]]
        return {"metadata": meta, "items": items}


def pages_of(count: int, size: int) -> list[list[str]]:
    return [[f"o{p}-{i}" for i in range(size)] for p in range(count)]


def handler_logging_to(log: list[str]) -> watch.Handler:
    def handle(kind: str | None, body: dict[str, Any]) -> None:
        assert kind is None
        assert (body["apiVersion"], body["kind"]) == ("ipam.metal3.io/v1alpha1", "IPClaim")
        log.append(body["metadata"]["name"])

    return handle


def test_every_object_is_handed_over_once_in_order_and_the_last_version_is_returned() -> None:
    source = Pages(pages_of(4, 120))
    names: list[str] = []
    version = asyncio.run(
        watch.list_all(source, resources.IPCLAIM, "ns", handler_logging_to(names))
    )
    assert names == [name for page in source.pages for name in page]
    assert version == "v3"
    assert source.log == ["ask 0", "ask 1", "ask 2", "ask 3"]


def test_the_next_page_is_asked_for_before_the_current_one_is_all_handed_over() -> None:
    source = Pages(pages_of(3, 200), delay=0.001)
    log = source.log
    asyncio.run(watch.list_all(source, resources.IPCLAIM, "ns", handler_logging_to(log)))
    for page in (1, 2):
        asked = log.index(f"ask {page}")
        last_of_previous = log.index(source.pages[page - 1][-1])
        assert log.index(f"ask {page - 1}") < asked < last_of_previous, (
            f"page {page} is asked for before page {page - 1} is all handed over"
        )


def test_a_reader_that_drains_between_pages_holds_one_page_and_asks_after_the_drain() -> None:
    source = Pages(pages_of(3, 200))
    log = source.log

    async def drain() -> None:
        log.append("drained")

    asyncio.run(
        watch.list_all(
            source, resources.IPCLAIM, "ns", handler_logging_to(log), between_pages=drain
        )
    )
    for page in (1, 2):
        asked = log.index(f"ask {page}")
        assert log[asked - 2 : asked] == [source.pages[page - 1][-1], "drained"]


def test_a_failed_next_page_fails_the_list_after_the_page_before_was_handed_over() -> None:
    source = Pages(pages_of(3, 100), fail_at=1)
    names: list[str] = []
    with pytest.raises(client.KubeError, match="the server gave up"):
        asyncio.run(watch.list_all(source, resources.IPCLAIM, "ns", handler_logging_to(names)))
    assert names == source.pages[0]
    assert "ask 2" not in source.log


def test_a_list_cancelled_while_it_hands_over_cancels_the_page_it_asked_for() -> None:
    source = Pages(pages_of(3, 200))  # the first page at once
    slow = Pages(source.pages, delay=60.0)  # the next ones never
    names: list[str] = []

    async def first_page_then_stall(
        resource: Resource, namespace: str | None, token: str | None = None
    ) -> client.Body:
        if token is None:
            return await source.list_page(resource, namespace, token)
        return await slow.list_page(resource, namespace, token)

    class Mixed:
        list_page = staticmethod(first_page_then_stall)

    async def scenario() -> None:
        sixty = asyncio.Event()
        log_name = handler_logging_to(names)

        def handle(kind: str | None, body: dict[str, Any]) -> None:
            log_name(kind, body)
            if len(names) == 60:
                sixty.set()

        task = asyncio.create_task(watch.list_all(Mixed(), resources.IPCLAIM, "ns", handle))
        await sixty.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert 60 <= len(names) < 200
    assert slow.cancelled == [1], "the next page's request does not outlive its List"
