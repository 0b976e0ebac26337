"""Whose Lease it is: an unexpired holder other than us keeps it; an empty or expired one does not."""

from __future__ import annotations

import datetime

import pytest

from ipam.kube import leader

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
