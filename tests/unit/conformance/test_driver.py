"""The driver compares only where both sides came to rest, and says why when one does not."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conformance import cases, driver
from e2e.conformance.kinds import Kind, Ref

POOL = {"metadata": {"name": "p", "finalizers": ["ippool.ipam.metal3.io"]}, "status": {}}
CLAIM = {"metadata": {"name": "c"}, "status": {"errorMessage": "Exhausted IP Pools"}}
STALE_POOL = {"metadata": {"name": "p"}, "status": {"indexes": {"gone": "10.0.0.1"}}}


class FakeApi:
    """Each namespace shows a scripted sequence of frames (alias -> objects), one per look."""

    def __init__(self, script: dict[str, list[dict[str, list[dict[str, Any]]]]]) -> None:
        self.script = script
        self.looks: dict[str, int] = {}

    def list(self, kind: Kind, namespace: str) -> list[dict[str, Any]]:
        frames = self.script[namespace]
        look = self.looks.get(namespace, 0)
        if kind.alias == "Event":  # the last list of a snapshot
            self.looks[namespace] = look + 1
        return frames[min(look, len(frames) - 1)].get(kind.alias, [])


class Running:
    running = True

    def log_tail(self, lines: int = 40) -> str:
        return "(log)"


def step(wait: dict[str, tuple[Ref, ...]], *, timeout: float = 5.0) -> cases.Step:
    return cases.Step("s", "wait", None, cases.Wait(wait), None, 0.3, timeout)


def test_unmet_names_what_is_missing_and_pools_out_of_line() -> None:
    wait = cases.Wait({"bound": (Ref.parse("IPClaim/c"),)})
    assert driver.unmet(wait, {"IPPool/p": STALE_POOL}) == (
        "bound IPClaim/c; status.indexes in line with the address objects of IPPool/p"
    )
    excused = cases.Wait({"unsynced": (Ref.parse("IPPool/p"),)})
    assert driver.unmet(excused, {"IPPool/p": STALE_POOL}) == ""


def test_both_sides_are_taken_once_they_stop_changing() -> None:
    api = FakeApi(
        {
            "up": [{"IPPool": [POOL]}, {"IPPool": [POOL], "IPClaim": [CLAIM]}],
            "ours": [{"IPPool": [POOL], "IPClaim": [CLAIM]}],
        }
    )
    sides = [driver.Side("upstream", "up", Running()), driver.Side("ours", "ours", Running())]
    found = driver._settle(
        api,
        sides,
        {"upstream": step({}).wait, "ours": step({}).wait},
        step({"failed": (Ref.parse("IPClaim/c"),)}),
        "1. s",
    )
    assert set(found) == {"upstream", "ours"}
    assert found["upstream"]["IPClaim/c"]["status"]["errorMessage"] == "Exhausted IP Pools"


def test_a_side_that_never_comes_to_rest_fails_with_what_it_waits_for() -> None:
    api = FakeApi({"up": [{"IPPool": [POOL]}], "ours": [{"IPPool": [POOL], "IPClaim": [CLAIM]}]})
    wait = cases.Wait({"failed": (Ref.parse("IPClaim/c"),)})
    sides = [driver.Side("upstream", "up", Running()), driver.Side("ours", "ours", Running())]
    with pytest.raises(driver.CaseFailed) as failed:
        driver._settle(api, sides, {"upstream": wait, "ours": wait}, step({}, timeout=0.6), "3. x")
    assert "step '3. x' did not come to rest within 1s" in str(failed.value)
    assert "- upstream (namespace up): waiting for failed IPClaim/c" in str(failed.value)
    assert "ours" not in str(failed.value).split("waiting for")[1]
