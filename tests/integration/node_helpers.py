"""What the tests on a real node share: make targets, the controller's Pods, claims in bulk."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from e2e.cluster import Cluster
from e2e.toolchain import REPO
from tests.integration.helpers import METAL3_ADDRESSES, METAL3_CLAIMS, POOLS, apply_all, wait_for

SYSTEM = "metal3-ipam-system"
DEPLOYMENT = "ipam-controller-manager"
LEASE = "capi-ipam-controller"
SELECTOR = "app.kubernetes.io/name=ipam-controller-manager"


def make(cluster: Cluster, *targets: str, timeout: float = 300) -> str:
    """Run ``make TARGETS`` against the cluster, as the README shows; its output."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig_path)}
    proc = subprocess.run(
        ["make", "--no-print-directory", *targets],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"make {' '.join(targets)} failed:\n{output}"
    return output


def pods(cluster: Cluster) -> list[dict[str, Any]]:
    found = cluster.get_json("pods", "-n", SYSTEM, "-l", SELECTOR) or {"items": []}
    items: list[dict[str, Any]] = found["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
    return conditions.get("Ready") == "True"


def restarts(pod: dict[str, Any]) -> int:
    return sum(s.get("restartCount", 0) for s in pod.get("status", {}).get("containerStatuses", []))


def leader(cluster: Cluster) -> str | None:
    """The name of the Pod holding the Lease (its identity is ``<pod>_<suffix>``)."""
    lease = cluster.get_json("lease", LEASE, "-n", SYSTEM)
    holder = (lease or {}).get("spec", {}).get("holderIdentity") or ""
    return holder.rsplit("_", 1)[0] or None


def wait_rollout(cluster: Cluster, timeout: float = 240) -> None:
    cluster.kubectl(
        "rollout",
        "status",
        f"deployment/{DEPLOYMENT}",
        "-n",
        SYSTEM,
        f"--timeout={timeout:.0f}s",
        timeout=timeout + 30,
    )


def pod_python(cluster: Cluster, pod: str, code: str) -> str:
    """Run Python in the controller's container (the image has no shell); its stdout."""
    return str(cluster.kubectl("exec", "-n", SYSTEM, pod, "--", "python", "-c", code).stdout)


def metrics(cluster: Cluster, pod: str) -> str:
    return pod_python(
        cluster,
        pod,
        "import urllib.request;"
        "print(urllib.request.urlopen('http://127.0.0.1:8443/metrics', timeout=5).read().decode())",
    )


def pool(namespace: str, name: str, start: str, end: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"namePrefix": name, "pools": [{"start": start, "end": end}], "prefix": 24},
    }


def claim(namespace: str, name: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"pool": {"name": pool_name}},
    }


def bindings(cluster: Cluster, namespace: str) -> dict[str, str]:
    """Claim name -> the IPAddress object its status names (bound claims only)."""
    claims = cluster.get_json(METAL3_CLAIMS, "-n", namespace) or {"items": []}
    return {
        c["metadata"]["name"]: c["status"]["address"]["name"]
        for c in claims["items"]
        if (c.get("status") or {}).get("address")
    }


def addresses(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    found = cluster.get_json(METAL3_ADDRESSES, "-n", namespace) or {"items": []}
    items: list[dict[str, Any]] = found["items"]
    return items


def assert_one_address_per_claim(cluster: Cluster, namespace: str, claims: int) -> None:
    """Every claim bound to its own IPAddress, and no address given out twice."""
    bound = wait_for(
        f"{claims} claims bound in {namespace}",
        lambda: (b := bindings(cluster, namespace)) and len(b) == claims and b,
        timeout=120,
    )
    objects = addresses(cluster, namespace)
    by_claim: dict[str, list[str]] = {}
    for obj in objects:
        by_claim.setdefault(obj["spec"]["claim"]["name"], []).append(obj["spec"]["address"])
    duplicates = {c: a for c, a in by_claim.items() if len(a) > 1}
    assert not duplicates, f"claims holding more than one address: {duplicates}"
    ips = [obj["spec"]["address"] for obj in objects]
    assert len(ips) == len(set(ips)) == claims, sorted(ips)
    assert {o["metadata"]["name"] for o in objects} == set(bound.values())


@contextmanager
def claims_trickling_in(
    cluster: Cluster, namespace: str, pool_name: str, *, prefix: str, every: float = 0.5
) -> Iterator[list[str]]:
    """Create one claim every ``every`` seconds while the body runs; the names created."""
    created: list[str] = []
    stop = threading.Event()

    def create() -> None:
        while not stop.is_set():
            name = f"{prefix}-{len(created)}"
            apply_all(cluster, [claim(namespace, name, pool_name)])
            created.append(name)
            stop.wait(every)

    worker = threading.Thread(target=create, name="claims", daemon=True)
    worker.start()
    try:
        yield created
    finally:
        stop.set()
        worker.join(30)


def pool_usage(cluster: Cluster, namespace: str) -> dict[str, int | None]:
    found = cluster.get_json(POOLS, "-n", namespace) or {"items": []}
    return {p["metadata"]["name"]: (p.get("status") or {}).get("used") for p in found["items"]}


def describe(cluster: Cluster) -> str:
    """Pods, events and the controller's logs: what a failing node test shows."""
    parts = [cluster.kubectl("get", "pods", "-n", SYSTEM, "-o", "wide", check=False).stdout]
    parts.append(
        cluster.kubectl(
            "get", "events", "-n", SYSTEM, "--sort-by=.lastTimestamp", check=False
        ).stdout[-3000:]
    )
    for p in pods(cluster):
        name = p["metadata"]["name"]
        logs = cluster.kubectl("logs", "-n", SYSTEM, name, "--tail=30", check=False)
        parts.append(f"--- logs of {name} ---\n{logs.stdout}{logs.stderr}")
    return "\n".join(parts)


def wait_settled(cluster: Cluster, replicas: int, timeout: float = 180) -> list[dict[str, Any]]:
    """``replicas`` Ready Pods and nothing terminating; the Pods."""

    def settled() -> list[dict[str, Any]] | None:
        everything = (cluster.get_json("pods", "-n", SYSTEM, "-l", SELECTOR) or {"items": []})[
            "items"
        ]
        live = [p for p in everything if not p["metadata"].get("deletionTimestamp")]
        if len(everything) == len(live) == replicas and all(ready(p) for p in live):
            return live
        return None

    try:
        found: list[dict[str, Any]] = wait_for(
            f"{replicas} ready controller pods", settled, timeout
        )
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n{describe(cluster)}") from None
    return found
