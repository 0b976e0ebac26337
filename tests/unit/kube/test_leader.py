"""Whose Lease it is: an unexpired holder other than us keeps it; an empty or expired one does not."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import pytest

from ipam.kube import client, leader, resources
from ipam.kube.resources import Resource
from tests.unit.handlers.fakeapi import FakeApi

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def spec(holder: str | None, renewed_seconds_ago: float, duration: int = 15) -> dict[str, object]:
    renewed = NOW - datetime.timedelta(seconds=renewed_seconds_ago)
    result: dict[str, object] = {
        "leaseDurationSeconds": duration,
        "renewTime": renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if holder is not None:
        result["holderIdentity"] = holder
    return result


@pytest.mark.parametrize(
    ("lease", "taken"),
    [
        pytest.param(spec("other", 5), True, id="other-holder-fresh"),
        pytest.param(spec("other", 16), False, id="other-holder-expired"),
        pytest.param(spec("me", 5), False, id="we-hold-it"),
        pytest.param(spec(None, 5), False, id="released"),
        pytest.param(spec("", 5), False, id="empty-holder"),
        pytest.param({"holderIdentity": "other"}, False, id="no-times"),
    ],
)
def test_a_lease_is_held_by_another_only_while_it_is_fresh(
    lease: dict[str, object], taken: bool
) -> None:
    assert leader.held_by_other(lease, "me", NOW) is taken


def test_lease_times_are_written_as_microtime() -> None:
    assert leader._format(NOW) == "2026-01-01T12:00:00.000000Z"
    assert leader._parse("2026-01-01T12:00:00.000000Z") == NOW
    assert leader._parse("2026-01-01T12:00:00Z") == NOW


# --- renewals against an in-memory API server ---------------------------------------------------

NS = "metal3-ipam-system"
DEFAULT = leader.Timing()


class CountingApi(FakeApi):
    """The in-memory server, counting reads and writes of the Lease; ``hang`` makes the
    next that many calls never answer (a request lost on a stuck connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.hang = 0

    async def _maybe_hang(self, verb: str) -> None:
        self.calls.append(verb)
        if self.hang > 0:
            self.hang -= 1
            await asyncio.Event().wait()

    async def get(self, resource: Resource, namespace: str, name: str) -> client.Body | None:
        await self._maybe_hang("get")
        return await super().get(resource, namespace, name)

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> client.Body | None:
        await self._maybe_hang("update")
        return await super().replace(resource, namespace, name, body)

    async def create(
        self, resource: Resource, namespace: str, body: Mapping[str, Any]
    ) -> client.CreateResult:
        await self._maybe_hang("create")
        return await super().create(resource, namespace, body)


def elector(api: FakeApi, identity: str = "me", timing: leader.Timing = DEFAULT) -> Any:
    return leader.Elector(
        cast(client.Client, api), namespace=NS, name="lead", identity=identity, timing=timing
    )


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), timeout=20))


def test_a_leader_renews_with_one_write_and_no_read() -> None:
    async def scenario() -> tuple[list[str], dict[str, Any] | None]:
        api = CountingApi()
        mine = elector(api)
        await mine.acquire()
        api.calls.clear()
        for _ in range(3):
            assert await mine.try_acquire_or_renew() is True
        return api.calls, api.find(resources.LEASE, NS, "lead")

    calls, lease = run(scenario)
    assert calls == ["update", "update", "update"]
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "me"
    assert lease["spec"]["leaseTransitions"] == 0


async def taken_by_other(api: FakeApi) -> None:
    """Another holder writes the Lease, renewed just now, behind the elector's back."""
    stored = api.find(resources.LEASE, NS, "lead")
    assert stored is not None
    taken = {**stored, "spec": {**stored["spec"], "holderIdentity": "other"}}
    taken["spec"]["renewTime"] = leader._format(leader._now())
    await FakeApi.replace(api, resources.LEASE, NS, "lead", taken)


def test_a_lease_written_by_someone_else_meanwhile_is_read_and_judged_again() -> None:
    async def scenario() -> tuple[bool, list[str], dict[str, Any] | None]:
        api = CountingApi()
        mine = elector(api)
        await mine.acquire()
        await taken_by_other(api)
        api.calls.clear()
        renewed = await mine.try_acquire_or_renew()
        return renewed, api.calls, api.find(resources.LEASE, NS, "lead")

    renewed, calls, lease = run(scenario)
    assert renewed is False
    assert calls == ["update", "get"], "the stale write fails, then the Lease is read again"
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "other"


def test_a_lease_deleted_under_the_leader_is_made_again() -> None:
    async def scenario() -> tuple[bool, list[str], dict[str, Any] | None]:
        api = CountingApi()
        mine = elector(api)
        await mine.acquire()
        api.remove_outright(resources.LEASE, NS, "lead")
        api.calls.clear()
        renewed = await mine.try_acquire_or_renew()
        return renewed, api.calls, api.find(resources.LEASE, NS, "lead")

    renewed, calls, lease = run(scenario)
    assert renewed is True
    assert calls == ["update", "get", "create"]
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "me"


FAST = leader.Timing(lease_duration=3.0, renew_deadline=2.0, retry_period=0.2)


def test_one_renewal_without_an_answer_does_not_lose_the_lease() -> None:
    async def scenario() -> tuple[list[str], str]:
        api = CountingApi()
        mine = elector(api, timing=FAST)
        await mine.acquire()
        api.calls.clear()
        api.hang = 1
        keeping = asyncio.ensure_future(mine.keep())
        await asyncio.sleep(2 * FAST.renew_deadline)
        if keeping.done():
            return api.calls, f"leadership lost: {keeping.exception()!r}"
        keeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeping
        return api.calls, "kept"

    calls, outcome = run(scenario)
    assert outcome == "kept"
    assert calls[0] == "update", "the first renewal is the one that hangs"
    assert calls.count("update") >= 5, "renewals went on after it"


def test_a_leader_whose_renewals_all_go_unanswered_loses_the_lease() -> None:
    async def scenario() -> tuple[leader.LeadershipLost | None, bool, int]:
        api = CountingApi()
        mine = elector(api, timing=FAST)
        await mine.acquire()
        api.calls.clear()
        api.hang = 1_000
        try:
            await mine.keep()
        except leader.LeadershipLost as lost:
            return lost, mine.leading, len(api.calls)
        return None, mine.leading, len(api.calls)

    lost, leading, attempts = run(scenario)
    assert lost is not None
    assert "not renewed for 2s" in str(lost)
    assert leading is False
    assert attempts >= 2, "an attempt without an answer is abandoned and tried again"


def test_a_leader_that_finds_another_holder_loses_the_lease_at_once() -> None:
    async def scenario() -> tuple[leader.LeadershipLost | None, bool]:
        api = CountingApi()
        mine = elector(api, timing=FAST)
        await mine.acquire()
        await taken_by_other(api)
        try:
            await mine.keep()
        except leader.LeadershipLost as lost:
            return lost, mine.leading
        return None, mine.leading

    lost, leading = run(scenario)
    assert lost is not None
    assert "taken by another holder" in str(lost)
    assert leading is False
