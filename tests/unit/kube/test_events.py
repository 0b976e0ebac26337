"""A core/v1 Event about one of our objects names it exactly and never exceeds the message limit;
routine news is one Event per object and reason whose count grows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ipam.kube import bodies, events, resources
from tests.unit.handlers.fakeapi import FakeApi


def test_an_event_names_the_involved_object_and_the_reporter() -> None:
    meta = bodies.meta_of({"metadata": {"name": "c1", "namespace": "ns", "uid": "u1"}})
    involved = events.Involved(resources.IPCLAIM.api_version, resources.IPCLAIM.kind, meta)
    body = events.event_body(
        events.Event(involved, "Warning", "PoolExhausted", "Exhausted IP Pools"), instance="me"
    )
    assert body["metadata"] == {"generateName": "c1.", "namespace": "ns"}
    assert body["involvedObject"] == {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "name": "c1",
        "namespace": "ns",
        "uid": "u1",
    }
    assert (body["type"], body["reason"], body["message"]) == (
        "Warning",
        "PoolExhausted",
        "Exhausted IP Pools",
    )
    assert body["source"] == {"component": "capi-ipam"}
    assert body["reportingInstance"] == "me"


def test_a_long_message_is_shortened_to_what_the_api_accepts() -> None:
    meta = bodies.meta_of({"metadata": {"name": "c1", "namespace": "ns"}})
    involved = events.Involved("v1", "X", meta)
    body = events.event_body(events.Event(involved, "Normal", "R", "x" * 5000), instance="me")
    assert len(body["message"]) == events.MAX_MESSAGE


# --- aggregation: one Event per (object, reason), its count bumped, as Kubernetes does -----------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pool(uid: str = "p-uid") -> events.Involved:
    meta = bodies.meta_of({"metadata": {"name": "pool", "namespace": "ns", "uid": uid}})
    return events.Involved(resources.IPPOOL.api_version, resources.IPPOOL.kind, meta)


async def _drain(recorder: events.Recorder) -> None:
    await asyncio.wait_for(recorder.queue.join(), timeout=5)


def _aggregation(test: Callable[[FakeApi, events.Recorder, Clock], Awaitable[None]]) -> None:
    async def run() -> None:
        api, clock = FakeApi(), Clock()
        recorder = events.Recorder(api, instance="me", clock=clock)  # type: ignore[arg-type]
        recorder.start()
        try:
            await test(api, recorder, clock)
        finally:
            await recorder.stop()

    asyncio.run(run())


def test_news_of_one_reason_on_one_object_is_one_event_whose_count_grows() -> None:
    async def test(api: FakeApi, recorder: events.Recorder, clock: Clock) -> None:
        for i in range(3):
            recorder.tally(_pool(), "Allocated", "addresses", f"10.0.0.{i} (IPClaim c{i})")
        recorder.flush()
        await _drain(recorder)
        assert api.event_writes == [("POST", "pool.0")]
        [event] = api.posted
        assert (event["reason"], event["count"]) == ("Allocated", 3)
        assert event["message"].startswith("Allocated 3 addresses: 10.0.0.0 (IPClaim c0)")

        for i in range(3, 8):  # a later window: the same Event is bumped, no second Event
            recorder.tally(_pool(), "Allocated", "addresses", f"10.0.0.{i} (IPClaim c{i})")
        clock.now += events.TALLY_WINDOW
        recorder.flush()
        await _drain(recorder)
        assert api.event_writes == [("POST", "pool.0"), ("PATCH", "pool.0")]
        [event] = api.posted
        assert event["count"] == 8
        assert event["message"].startswith("Allocated 8 addresses: 10.0.0.0 (IPClaim c0)")

        recorder.tally(_pool(), "Released", "addresses", "10.0.0.1")  # another reason: its own
        recorder.flush()
        await _drain(recorder)
        assert [(e["reason"], e["count"]) for e in api.posted] == [
            ("Allocated", 8),
            ("Released", 1),
        ]

    _aggregation(test)


def test_a_long_burst_writes_its_event_ever_more_rarely_and_loses_no_count() -> None:
    async def test(api: FakeApi, recorder: events.Recorder, clock: Clock) -> None:
        told = 0
        for _ in range(120):  # ten minutes of news, a flush every five seconds
            for _ in range(50):
                recorder.tally(_pool(), "Allocated", "addresses", f"item {told}")
                told += 1
            clock.now += events.TALLY_WINDOW
            recorder.flush()
            await _drain(recorder)
        # a window's worth of writes would be 120; doubling intervals up to a minute make 14
        assert len(api.event_writes) <= 15
        await recorder.stop()
        [event] = api.posted
        assert event["count"] == told == 6000
        assert event["message"].startswith("Allocated 6000 addresses: item 0, ")
        assert event["message"].endswith(" and 5990 more")

    _aggregation(test)


def test_a_series_ends_after_ten_quiet_minutes_and_a_vanished_event_is_made_again() -> None:
    async def test(api: FakeApi, recorder: events.Recorder, clock: Clock) -> None:
        recorder.tally(_pool(), "Allocated", "addresses", "a")
        recorder.flush()
        await _drain(recorder)
        clock.now += events.SERIES_IDLE + 1
        recorder.flush()
        recorder.tally(_pool(), "Allocated", "addresses", "b")
        recorder.flush()
        await _drain(recorder)
        assert [(e["count"], e["message"]) for e in api.posted] == [
            (1, "Allocated 1 addresses: a"),
            (1, "Allocated 1 addresses: b"),
        ]

        api.posted.clear()  # the API server let the Event expire
        recorder.tally(_pool(), "Allocated", "addresses", "c")
        clock.now += 60
        recorder.flush()
        await _drain(recorder)
        [event] = api.posted
        assert (event["count"], event["message"]) == (2, "Allocated 2 addresses: b, c")

    _aggregation(test)
