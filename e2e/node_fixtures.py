"""pytest fixtures for tests that need a real node: one control plane with a kubelet per session.

Opt-in: only tests that ask for ``node_cluster`` start it (on first use, shared by the rest
of the session), and they skip with the reason when this machine cannot run a node (not
root, no overlayfs, Debian packages missing: ``make node-packages``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from e2e import host, images
from e2e.node import Node
from e2e.nodeplane import NodePlane
from e2e.toolchain import ensure_tools


@dataclass
class NodeCluster:
    """The control plane, its node, and what starting them cost."""

    plane: NodePlane
    node: Node
    seconds: dict[str, float]
    host_before: dict[str, object]
    """The host as it was before the node (:func:`e2e.host.snapshot`)."""


_COSTS: dict[str, float] = {}
"""What the session's node cost, by step, for the terminal summary."""


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[NodeCluster]:
    tools = ensure_tools()
    reason = host.unavailable(tools)
    if reason:
        pytest.skip(f"no node on this machine: {reason}")
    seconds = _COSTS
    started = time.monotonic()
    controller = images.build_controller_image()
    seconds["images"] = time.monotonic() - started
    lease = host.acquire_slot()
    before = host.snapshot(lease.slot)
    plane = NodePlane("node", lease.slot, tools=tools)
    node = Node(plane)
    try:
        mark = time.monotonic()
        plane.start()
        seconds["control plane"] = time.monotonic() - mark
        mark = time.monotonic()
        node.start()
        seconds["node"] = time.monotonic() - mark
        mark = time.monotonic()
        node.import_image(controller)
        seconds["import"] = time.monotonic() - mark
        yield NodeCluster(plane, node, seconds, before)
    finally:
        mark = time.monotonic()
        node.stop()
        plane.stop()
        lease.release()
        seconds["teardown"] = time.monotonic() - mark


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the node's tests last, together: the node then lives only as long as they run."""
    items.sort(key=lambda item: item.get_closest_marker("node") is not None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _COSTS:
        steps = ", ".join(f"{step} {seconds:.1f}s" for step, seconds in _COSTS.items())
        terminalreporter.write_line(f"node: {steps}")
