"""Nothing of the node outlives it: processes, mounts, sysctls, addresses, bridge, cgroups.

The last of the node's tests (they run last, in file order): it stops the session's node
and compares the host with what it was before the node started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from e2e import host, images
from e2e.node_fixtures import NodeCluster

pytestmark = [pytest.mark.cluster, pytest.mark.node]


def _pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


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
    (child,) = [
        int(p) for p in Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    ]
    namespace = _pid_namespace(child)
    inside = [
        p
        for p in map(int, filter(str.isdigit, os.listdir("/proc")))
        if _pid_namespace(p) == namespace
    ]
    names = {Path(f"/proc/{p}/comm").read_text().strip() for p in inside}
    assert {"containerd", "kubelet", "pause"} <= names, "the node is running, with a pod"
    during = host.snapshot(node.slot)
    assert node.slot.bridge in during["links"]
    assert len(during["links"]) >= 2, "the pod's veth is on the bridge"
    assert f"{node.slot.service_ip}/32" in during["lo"]
    assert during["sysctls"] == node_cluster.host_before["sysctls"], (
        "the kubelet's writes stay inside"
    )

    node.stop()

    assert not [p for p in inside if _pid_namespace(p) == namespace], "every process is gone"
    assert host.snapshot(node.slot) == node_cluster.host_before
