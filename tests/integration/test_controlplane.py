"""A harness control plane behaves like a real cluster: it answers, restarts, collects garbage.

Cluster API's manager runs beside it and keeps answering through every kind of restart.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from e2e import capi, providers
from e2e.cluster import Cluster
from e2e.controlplane import ControlPlane
from tests.integration.helpers import apply_all, workload_cluster

pytestmark = pytest.mark.cluster


def _configmap(cluster: Cluster, namespace: str, name: str) -> dict[str, object] | None:
    found: dict[str, object] | None = cluster.get_json("configmap", name, "-n", namespace)
    return found


@pytest.fixture(scope="module")
def scratch() -> ControlPlane:
    """A control plane of this module's own, since these tests restart it."""
    with ControlPlane("scratch") as cp:
        yield cp


def _cluster_api_answers(cp: ControlPlane) -> None:
    """Cluster API's webhook refuses a bare Cluster and its conversion serves v1beta1."""
    bare = {
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": {"name": "bare", "namespace": "default"},
        "spec": {"paused": False},
    }
    proc = cp.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(bare), check=False)
    assert capi.REFUSAL in proc.stderr
    apply_all(cp, workload_cluster("default", "restarted"))
    old = cp.get_json("clusters.v1beta1.cluster.x-k8s.io", "restarted", "-n", "default")
    # v1beta1 names the infrastructure by apiVersion; only the conversion webhook says so.
    assert old["spec"]["infrastructureRef"]["apiVersion"] == providers.API_VERSION


def test_control_plane_serves_the_kubernetes_version_it_was_built_from(
    scratch: ControlPlane,
) -> None:
    version = json.loads(scratch.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == scratch.tools.kubernetes_version


def test_object_created_before_an_apiserver_restart_is_still_there(scratch: ControlPlane) -> None:
    scratch.kubectl("create", "configmap", "before-apiserver-restart", "-n", "default")
    scratch.restart_apiserver()
    assert _configmap(scratch, "default", "before-apiserver-restart") is not None
    _cluster_api_answers(scratch)


def test_object_created_before_an_etcd_restart_is_still_there(scratch: ControlPlane) -> None:
    scratch.kubectl("create", "configmap", "before-etcd-restart", "-n", "default")
    scratch.restart_etcd()
    assert _configmap(scratch, "default", "before-etcd-restart") is not None
    _cluster_api_answers(scratch)


def test_object_created_before_a_full_restart_is_still_there(scratch: ControlPlane) -> None:
    scratch.kubectl("create", "configmap", "before-full-restart", "-n", "default")
    assert scratch.capi_manager is not None
    manager_before = scratch.capi_manager.process.pid
    scratch.restart()
    assert _configmap(scratch, "default", "before-full-restart") is not None
    assert scratch.capi_manager.process.pid != manager_before
    _cluster_api_answers(scratch)


def test_deleting_an_owner_removes_its_dependents(source_cluster: Cluster, namespace: str) -> None:
    source_cluster.kubectl("create", "configmap", "owner", "-n", namespace)
    owner = source_cluster.get_json("configmap", "owner", "-n", namespace)
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": "owner",
                    "uid": owner["metadata"]["uid"],
                }
            ],
        },
    }
    source_cluster.apply(json.dumps(dependent))
    source_cluster.kubectl("delete", "configmap", "owner", "-n", namespace)
    deadline = time.monotonic() + 60
    while _configmap(source_cluster, namespace, "dependent") is not None:
        assert time.monotonic() < deadline, "the garbage collector did not remove the dependent"
        time.sleep(0.5)


def test_deleting_a_namespace_removes_it_and_its_objects(source_cluster: Cluster) -> None:
    source_cluster.kubectl("create", "namespace", "doomed-namespace")
    source_cluster.kubectl("create", "configmap", "inside", "-n", "doomed-namespace")
    source_cluster.kubectl("delete", "namespace", "doomed-namespace", "--timeout=60s")
    assert source_cluster.get_json("namespace", "doomed-namespace") is None


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from e2e.controlplane import ControlPlane
    cp = ControlPlane("orphan-check").start()
    print(json.dumps([p.pid for p in cp.programs()]), flush=True)
    sys.stdin.readline()
    if sys.argv[1] == "exit":
        sys.exit(0)  # no stop(): the harness must clean up anyway
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(") ", 1)[1][0] != "Z"


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_harness_process_outlives_the_process_that_started_it(ending: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, ending],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        pids = json.loads(child.stdout.readline())
        assert len(pids) == 4  # etcd, kube-apiserver, kube-controller-manager, Cluster API
        assert all(_alive(pid) for pid in pids)
        if ending == "sigkill":
            child.send_signal(signal.SIGKILL)
        else:
            child.stdin.write("go\n")
            child.stdin.flush()
        child.wait(60)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if _alive(p)]}"
        time.sleep(0.2)


def _pool(namespace: str, name_prefix: str) -> str:
    return json.dumps(
        {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": "IPPool",
            "metadata": {"name": "cel-pool", "namespace": namespace},
            "spec": {"namePrefix": name_prefix, "pools": [{"start": "192.168.0.10"}]},
        }
    )


def test_api_server_rejects_a_pool_that_breaks_a_cel_rule_with_the_rules_message(
    source_cluster: Cluster, namespace: str
) -> None:
    source_cluster.kubectl("apply", "-f", "-", input=_pool(namespace, "first"))
    proc = source_cluster.kubectl("apply", "-f", "-", input=_pool(namespace, "second"), check=False)
    assert proc.returncode != 0
    assert "spec.namePrefix cannot be changed after the pool is created" in proc.stderr


def test_api_server_rejects_an_empty_pool_entry_with_the_rules_message(
    source_cluster: Cluster, namespace: str
) -> None:
    body = json.loads(_pool(namespace, "empty"))
    body["spec"]["pools"] = [{"prefix": 24}]
    proc = source_cluster.kubectl("apply", "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode != 0
    assert "a pool entry needs at least one of start, end or subnet" in proc.stderr
