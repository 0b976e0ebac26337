"""Nothing of the node outlives it: processes, mounts, sysctls, addresses, bridge, cgroups.

The last of the node's tests (they run last, in file order): it stops the session's node
and compares the host with what it was before the node started.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

from e2e import host, images
from e2e.node_fixtures import NodeCluster

pytestmark = [pytest.mark.cluster, pytest.mark.node]


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            found[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return found


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``: the node's, and the containers in their own namespaces."""
    parents = _parents()
    found = {pid}
    while grown := {p for p, parent in parents.items() if parent in found} - found:
        found |= grown
    return found


def _identity(pid: int) -> tuple[int, str] | None:
    """The pid and its start time (a pid alone may be reused); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (pid, fields[19])


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "alive-at-the-stop", "namespace": "default"},
    "spec": {
        "containers": [{"name": "pause", "image": images.PAUSE_IMAGE, "imagePullPolicy": "Never"}],
        "terminationGracePeriodSeconds": 1,
    },
}


def test_stopping_the_node_leaves_the_host_as_it_was(node_cluster: NodeCluster) -> None:
    node = node_cluster.node
    node_cluster.plane.kubectl("apply", "-f", "-", input=json.dumps(POD))
    node_cluster.plane.kubectl(
        "wait",
        "--for=condition=Ready",
        "pod/alive-at-the-stop",
        "-n",
        "default",
        "--timeout=90s",
        timeout=120,
    )
    launcher = node.launcher.pid
    assert launcher is not None
    inside = {i for p in _descendants(launcher) if (i := _identity(p))}
    names = set()
    for pid, _ in inside:
        with contextlib.suppress(OSError):
            names.add(Path(f"/proc/{pid}/comm").read_text().strip())
    assert {"containerd", "kubelet", "pause"} <= names, "the node is running, with a pod"
    during = host.snapshot(node.slot)
    assert node.slot.bridge in during["links"]
    assert len(during["links"]) >= 2, "the pod's veth is on the bridge"
    assert f"{node.slot.service_ip}/32" in during["lo"]
    assert during["sysctls"] == node_cluster.host_before["sysctls"], (
        "the kubelet's writes stay inside"
    )

    node.stop()

    assert not [i for i in inside if _identity(i[0]) == i], "every process is gone, containers too"
    assert host.snapshot(node.slot) == node_cluster.host_before
