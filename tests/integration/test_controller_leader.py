"""Two controller processes on one cluster: one leads, the other waits, and nothing is handed out twice."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.cluster import Cluster
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane
from tests.integration.helpers import METAL3_ADDRESSES, wait_for

pytestmark = pytest.mark.cluster


def http_status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


class Pair:
    """Controller processes of one test sharing one Lease of their own."""

    def __init__(self, cluster: Cluster, workdir: Path, lease: str) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.lease = lease
        self.runners: list[ControllerRunner] = []

    def start(self, name: str, *args: str) -> ControllerRunner:
        runner = ControllerRunner(
            self.cluster,
            self.workdir,
            name=name,
            extra_args=[f"--leader-election-id={self.lease}", *args],
        )
        self.runners.append(runner)
        return runner.start()

    def stop_all(self) -> None:
        for runner in self.runners:
            runner.stop()


@pytest.fixture
def pair(source_cluster: Cluster, namespace: str, tmp_path: Path) -> Iterator[Pair]:
    manager = Pair(source_cluster, tmp_path, f"lead-{namespace}")
    yield manager
    manager.stop_all()


def pool_and_claims(namespace: str, count: int, first: int = 0) -> str:
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "pool", "namespace": namespace},
            "spec": {"namePrefix": "pool", "pools": [{"subnet": "10.50.0.0/24"}]},
        }
    ]
    items += [
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPClaim",
            "metadata": {"name": f"claim-{i}", "namespace": namespace},
            "spec": {"pool": {"name": "pool"}},
        }
        for i in range(first, first + count)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def bound(cluster: Cluster, namespace: str, count: int) -> bool:
    claims = cluster.get_json("ipclaims.ipam.metal3.io", "-n", namespace)["items"]
    return len(claims) == count and all((c.get("status") or {}).get("address") for c in claims)


def test_a_standby_waits_and_stays_quiet_while_the_leader_serves(
    source_cluster: Cluster, namespace: str, pair: Pair
) -> None:
    leader = pair.start("leader")
    assert leader.wait_for_log("Became the leader", timeout=30)
    standby = pair.start("standby")
    assert standby.wait_for_log("Waiting for the lease", timeout=30)

    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 5))
    wait_for("five claims bound", lambda: bound(source_cluster, namespace, 5))

    assert "allocated" in leader.log_tail(500)
    assert "allocated" not in standby.log_tail(500)
    assert "Became the leader" not in standby.log_tail(500)
    assert http_status(leader.health_port, "/readyz") == 200
    # A healthy standby is ready too: a Deployment's rolling update must not wait on it.
    assert http_status(standby.health_port, "/readyz") == 200
    assert http_status(standby.health_port, "/healthz") == 200


def test_the_standby_takes_over_when_the_leader_is_killed(
    source_cluster: Cluster, namespace: str, pair: Pair
) -> None:
    leader = pair.start("leader", "--lease-duration=4")
    assert leader.wait_for_log("Became the leader", timeout=30)
    standby = pair.start("standby", "--lease-duration=4")
    assert standby.wait_for_log("Waiting for the lease", timeout=30)
    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2))
    wait_for("two claims bound", lambda: bound(source_cluster, namespace, 2))

    leader.kill()
    assert standby.wait_for_log("Became the leader", timeout=30)
    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2, first=2))
    wait_for("four claims bound", lambda: bound(source_cluster, namespace, 4))
    ips = [
        a["spec"]["address"]
        for a in source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace)["items"]
    ]
    assert len(ips) == 4
    assert len(set(ips)) == 4


def test_a_leader_that_stops_cleanly_hands_the_lease_over_at_once(
    source_cluster: Cluster, namespace: str, pair: Pair
) -> None:
    leader = pair.start("leader", "--lease-duration=60")
    assert leader.wait_for_log("Became the leader", timeout=30)
    standby = pair.start("standby", "--lease-duration=60")
    assert standby.wait_for_log("Waiting for the lease", timeout=30)

    stopped = time.monotonic()
    leader.stop()
    assert standby.wait_for_log("Became the leader", timeout=20)
    # Handed over, not expired: the standby won before the 60 s the Lease would have lasted.
    assert time.monotonic() - stopped < 60
    assert leader.returncode == 0


def test_two_controllers_without_leader_election_still_never_hand_out_one_address_twice(
    source_cluster: Cluster, namespace: str, pair: Pair
) -> None:
    pair.start("one", "--no-leader-election")
    pair.start("two", "--no-leader-election")
    for runner in pair.runners:
        assert runner.wait_for_log("Controller running", timeout=30)

    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 30))
    wait_for("thirty claims bound", lambda: bound(source_cluster, namespace, 30), timeout=120)

    def settled() -> list[dict[str, Any]] | None:
        """The addresses, once every claim holds exactly one (both may serve one claim at
        once; the extra address is then given back, never kept)."""
        found: list[dict[str, Any]] = source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace)[
            "items"
        ]
        per_claim = Counter(item["spec"]["claim"]["name"] for item in found)
        if per_claim != {f"claim-{i}": 1 for i in range(30)}:
            return None
        claims = source_cluster.get_json("ipclaims.ipam.metal3.io", "-n", namespace)["items"]
        bound_to = {(claim.get("status") or {}).get("address", {}).get("name") for claim in claims}
        return found if bound_to == {item["metadata"]["name"] for item in found} else None

    found = wait_for("one address per claim, and each claim bound to it", settled, timeout=60)
    ips = [item["spec"]["address"] for item in found]
    assert len(set(ips)) == len(ips)


def take_the_lease(cluster: Cluster, lease: str, holder: str, duration: int) -> None:
    """Another holder takes the Lease (as a second controller that won an election would)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    cluster.kubectl(
        "patch",
        "leases.coordination.k8s.io",
        lease,
        "-n",
        "metal3-ipam-system",
        "--type=merge",
        "-p",
        json.dumps(
            {"spec": {"holderIdentity": holder, "renewTime": now, "leaseDurationSeconds": duration}}
        ),
    )


def test_a_leader_that_loses_its_lease_stops_acting_and_wins_it_back_without_exiting(
    source_cluster: Cluster, namespace: str, pair: Pair
) -> None:
    leader = pair.start("leader", "--lease-duration=3")
    assert leader.wait_for_log("Became the leader", timeout=30)
    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2))
    wait_for("two claims bound", lambda: bound(source_cluster, namespace, 2))

    take_the_lease(source_cluster, pair.lease, "intruder", duration=8)
    assert leader.wait_for_log("Leadership lost", timeout=30)
    assert leader.wait_for_log("Became the leader", timeout=60, after="Leadership lost")
    assert leader.running, f"the process exited ({leader.returncode})"

    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2, first=2))
    wait_for(
        "four claims bound after winning the lease back",
        lambda: bound(source_cluster, namespace, 4),
    )
    ips = [
        a["spec"]["address"]
        for a in source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace)["items"]
    ]
    assert sorted(ips) == sorted(set(ips))
    assert len(ips) == 4


def test_an_api_outage_longer_than_the_lease_does_not_end_the_process(
    source_cluster: ControlPlane, namespace: str, pair: Pair
) -> None:
    leader = pair.start("leader", "--lease-duration=3")
    assert leader.wait_for_log("Became the leader", timeout=30)
    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2))
    wait_for("two claims bound", lambda: bound(source_cluster, namespace, 2))

    source_cluster.apiserver.stop()
    try:
        assert leader.wait_for_log("Leadership lost", timeout=60)
    finally:
        source_cluster.launch_apiserver()
        source_cluster.wait_apiserver()
    assert leader.wait_for_log("Became the leader", timeout=90, after="Leadership lost")
    assert leader.running, f"the process exited ({leader.returncode})"
    assert "Could not renew the lease: ." not in leader.log_tail(10_000), "a reason is always given"
    source_cluster.kubectl("apply", "-f", "-", input=pool_and_claims(namespace, 2, first=2))
    wait_for("four claims bound", lambda: bound(source_cluster, namespace, 4), timeout=120)
