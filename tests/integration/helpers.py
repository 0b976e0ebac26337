"""What the integration tests share: resource names, waiting, applying objects, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from e2e import providers
from e2e.cluster import Cluster
from e2e.toolchain import REPO

POOLS = "ippools.ipam.metal3.io"
METAL3_CLAIMS = "ipclaims.ipam.metal3.io"
METAL3_ADDRESSES = "ipaddresses.ipam.metal3.io"
CAPI_CLAIMS = "ipaddressclaims.ipam.cluster.x-k8s.io"
CAPI_ADDRESSES = "ipaddresses.ipam.cluster.x-k8s.io"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """``check()``'s first truthy answer; an AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


def apply_all(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    """Apply the objects with one kubectl call."""
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )


def ipam(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m ipam ARGS`` as a user runs it, output captured (stdout is not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "ipam", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def workload_cluster(namespace: str, name: str) -> list[dict[str, Any]]:
    """A Cluster that Cluster API accepts and provisions, with its stand-in providers' objects."""
    objects = providers.workload_cluster(name)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    return objects
