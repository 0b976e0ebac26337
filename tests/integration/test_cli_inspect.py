"""``ipam pools`` and ``ipam who`` against a real control plane with the controller running."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from e2e.controller import ControllerRunner
from e2e.toolchain import REPO
from tests.integration.helpers import (
    CAPI_CLAIMS,
    METAL3_ADDRESSES,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    ipam,
    wait_for,
)

pytestmark = pytest.mark.cluster


def pool(namespace: str, name: str, entries: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"namePrefix": name, "pools": entries, **spec},
    }


def metal3_claim(namespace: str, name: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"pool": {"name": pool_name}},
    }


def capi_claim(namespace: str, name: str, pool_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": "IPAddressClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool_name}},
    }


def pool_status(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    return dict((cluster.get_json(POOLS, name, "-n", namespace) or {}).get("status") or {})


def settled(cluster: Cluster, namespace: str, used: dict[str, int]) -> bool:
    """Each pool's status shows ``used`` addresses and carries its Ready condition."""
    for name, count in used.items():
        status = pool_status(cluster, namespace, name)
        if status.get("used") != count or not status.get("conditions"):
            return False
    return True


def rows_by_pool(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines()[1:] if line.strip()}


@pytest.fixture(scope="module")
def controller(
    source_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerRunner]:
    """One controller for the module's tests (it serves every namespace)."""
    runner = ControllerRunner(source_cluster, tmp_path_factory.mktemp("controller"), name="cli")
    yield runner.start()
    runner.stop()


@pytest.fixture(scope="module")
def pools_in_use(source_cluster: Cluster, controller: ControllerRunner) -> Iterator[str]:
    """small: 4 of 5 used (80 %); full: 1 of 1 (exhausted); wide: a /64 with one held."""
    namespace = f"t-cli-pools-{secrets.token_hex(3)}"
    source_cluster.kubectl("create", "namespace", namespace)
    apply_all(
        source_cluster,
        [
            pool(namespace, "small", [{"start": "10.61.0.1", "end": "10.61.0.5"}]),
            pool(namespace, "full", [{"start": "10.62.0.1", "end": "10.62.0.1"}]),
            pool(namespace, "wide", [{"subnet": "fd00:61::/64"}], prefix=64),
            *(metal3_claim(namespace, f"s{i}", "small") for i in range(3)),
            capi_claim(namespace, "s3", "small"),
            metal3_claim(namespace, "f0", "full"),
            capi_claim(namespace, "w0", "wide"),
        ],
    )
    wait_for(
        "the three pools' statuses",
        lambda: settled(source_cluster, namespace, {"small": 4, "full": 1, "wide": 1}),
        timeout=90,
    )
    yield namespace
    source_cluster.kubectl(
        "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False
    )


def test_pools_shows_bars_counts_in_human_units_conditions_and_warnings(
    source_cluster: Cluster, pools_in_use: str
) -> None:
    namespace = pools_in_use
    proc = ipam("pools", "-n", namespace, f"--kubeconfig={source_cluster.kubeconfig_path}")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout, "no escape codes when stdout is not a terminal"
    table, notes = proc.stdout.split("\n\n")
    assert table.splitlines()[0].split() == ["POOL", "USAGE", "TOTAL", "USED", "FREE", "STATUS"]
    rows = rows_by_pool(table)
    assert rows["small"][1:] == ["█" * 16 + "░" * 4, "80%", "5", "4", "1", "Ready"]
    assert rows["full"][1:] == ["█" * 20, "100%", "1", "1", "0", "PoolExhausted"]
    assert rows["wide"][1:] == [
        "█" + "░" * 19,
        "<1%",
        "2^64",
        "-",
        "1",
        "1",
        "2^64",
        "-",
        "2",
        "Ready",
    ]
    assert notes.splitlines() == [
        "! full: 100% used, 0 of 1 addresses free (warning at 80%)",
        "! full: not Ready: PoolExhausted: Every address is held or pre-allocated",
        "! small: 80% used, 1 of 5 addresses free (warning at 80%)",
    ]

    higher = ipam(
        "pools", "-n", namespace, "--warn-at=90", f"--kubeconfig={source_cluster.kubeconfig_path}"
    )
    assert "! small" not in higher.stdout
    assert "! full: 100% used" in higher.stdout


def test_pools_as_json_and_yaml_carry_exact_counts(
    source_cluster: Cluster, pools_in_use: str
) -> None:
    namespace = pools_in_use
    config = f"--kubeconfig={source_cluster.kubeconfig_path}"
    as_json = ipam("pools", "-n", namespace, "-o", "json", "--holders", config)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["namespace"] == namespace
    by_name = {p["name"]: p for p in data["pools"]}
    assert (by_name["wide"]["total"], by_name["wide"]["free"]) == (2**64 - 1, 2**64 - 2)
    assert by_name["small"]["usedPercent"] == 80
    assert by_name["full"]["conditions"][0]["reason"] == "PoolExhausted"
    assert by_name["small"]["warnings"] == ["80% used, 1 of 5 addresses free (warning at 80%)"]
    claims = sorted((a["claimKind"], a["claim"]) for a in by_name["small"]["addresses"])
    assert claims == [
        ("IPAddressClaim", "s3"),
        ("IPClaim", "s0"),
        ("IPClaim", "s1"),
        ("IPClaim", "s2"),
    ]
    assert by_name["wide"]["addresses"][0]["address"] == "fd00:61::1"

    as_yaml = ipam("pools", "-n", namespace, "-o", "yaml", "--holders", config)
    assert yaml.safe_load(as_yaml.stdout) == data


def test_pools_uses_the_kubeconfig_contexts_namespace_and_all_namespaces_with_a(
    tmp_path: Path, source_cluster: Cluster, pools_in_use: str
) -> None:
    namespace = pools_in_use
    config = yaml.safe_load(source_cluster.kubeconfig_path.read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = namespace
    scoped = tmp_path / "scoped.kubeconfig"
    scoped.write_text(yaml.safe_dump(config))

    proc = ipam("pools", f"--kubeconfig={scoped}")
    assert proc.returncode == 0, proc.stderr
    assert set(rows_by_pool(proc.stdout.split("\n\n")[0])) == {"small", "full", "wide"}

    every = ipam("pools", "-A", f"--kubeconfig={source_cluster.kubeconfig_path}")
    header, *rows = every.stdout.split("\n\n")[0].splitlines()
    assert header.split()[:2] == ["NAMESPACE", "POOL"]
    ours = {line.split()[1] for line in rows if line.split()[0] == namespace}
    assert ours == {"small", "full", "wide"}
    assert f"! {namespace}/full: 100% used" in every.stdout

    empty = ipam("pools", "-n", f"{namespace}-none", f"--kubeconfig={scoped}")
    assert (
        empty.stdout == f"No IPPools in namespace {namespace}-none (-A looks in every namespace).\n"
    )


def test_pools_watch_prints_a_new_frame_when_usage_changes(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    apply_all(
        source_cluster,
        [
            pool(namespace, "small", [{"start": "10.68.0.1", "end": "10.68.0.5"}]),
            metal3_claim(namespace, "s0", "small"),
        ],
    )
    wait_for("one address used", lambda: settled(source_cluster, namespace, {"small": 1}))
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ipam",
            "pools",
            "-n",
            namespace,
            "--watch",
            "--interval=0.5",
            "-o",
            "json",
            f"--kubeconfig={source_cluster.kubeconfig_path}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None

        def small_used() -> int:
            line = watcher.stdout.readline() if watcher.stdout else ""
            assert line, "the watch stopped printing"
            frame = json.loads(line)
            return int({p["name"]: p for p in frame["pools"]}["small"]["used"])

        assert small_used() == 1
        apply_all(source_cluster, [metal3_claim(namespace, "s1", "small")])
        wait_for("a frame with the second address used", lambda: small_used() == 2, timeout=90)
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "Traceback" not in err


def test_who_names_the_claim_pool_and_creation_of_an_address_and_the_reverse(
    source_cluster: Cluster, namespace: str, controller: ControllerRunner
) -> None:
    apply_all(
        source_cluster,
        [
            pool(
                namespace,
                "edge",
                [{"start": "10.63.0.1", "end": "10.63.0.2"}],
                preAllocations={"gateway": "10.63.0.2"},
            ),
            pool(namespace, "edge6", [{"subnet": "fd00:63::/120"}], prefix=120),
            pool(
                namespace,
                "tiny",
                [{"start": "10.65.0.1", "end": "10.65.0.1"}],
                preAllocations={"reserved": "10.65.0.1"},
            ),
            metal3_claim(namespace, "web", "edge"),
            capi_claim(namespace, "web", "edge6"),
            metal3_claim(namespace, "late", "tiny"),
        ],
    )

    def served() -> dict[str, Any] | None:
        late = source_cluster.get_json(METAL3_CLAIMS, "late", "-n", namespace) or {}
        capi = source_cluster.get_json(CAPI_CLAIMS, "web", "-n", namespace) or {}
        items = (source_cluster.get_json(METAL3_ADDRESSES, "-n", namespace) or {}).get("items")
        if not (late.get("status") or {}).get("errorMessage"):
            return None
        if not (capi.get("status") or {}).get("addressRef") or not items:
            return None
        return dict(items[0])

    metal3 = wait_for("both webs bound and late refused", served, timeout=90)
    config = f"--kubeconfig={source_cluster.kubeconfig_path}"

    by_address = ipam("who", "10.63.0.1", "-n", namespace, config)
    assert by_address.returncode == 0, by_address.stderr
    header, row = by_address.stdout.splitlines()
    assert header.split() == ["ADDRESS", "POOL", "CLAIM", "OBJECT", "SINCE", "AGE"]
    assert row.split()[:5] == [
        "10.63.0.1",
        "edge",
        "IPClaim/web",
        metal3["metadata"]["name"],
        metal3["metadata"]["creationTimestamp"],
    ]

    by_claim = ipam("who", "web", "-n", namespace, "-o", "json", config)
    assert by_claim.returncode == 0, by_claim.stderr
    holders = json.loads(by_claim.stdout)["holders"]
    assert [(h["claimKind"], h["claim"], h["address"], h["pool"]) for h in holders] == [
        ("IPClaim", "web", "10.63.0.1", "edge"),
        ("IPAddressClaim", "web", "fd00:63::1", "edge6"),
    ]
    assert holders[0]["since"] == metal3["metadata"]["creationTimestamp"]

    spelled = ipam("who", "fd00:63:0:0::1", "-n", namespace, config)
    assert spelled.stdout.splitlines()[1].split()[:3] == [
        "fd00:63::1",
        "edge6",
        "IPAddressClaim/web",
    ]

    idle = ipam("who", "late", "-n", namespace, config)
    assert (idle.returncode, idle.stdout) == (
        0,
        "IPClaim/late holds no address: Exhausted IP Pools\n",
    )
    reserved = ipam("who", "10.63.0.2", "-n", namespace, config)
    assert (reserved.returncode, reserved.stdout) == (
        1,
        "10.63.0.2 is held by no claim; it is free in pool edge, pre-allocated to claim gateway.\n",
    )
    outside = ipam("who", "10.64.0.1", "-n", namespace, config)
    assert (outside.returncode, outside.stdout) == (
        1,
        f"10.64.0.1 is held by no claim, and no pool in namespace {namespace} produces it.\n",
    )
    nobody = ipam("who", "nobody", "-n", namespace, config)
    assert (nobody.returncode, nobody.stdout) == (
        1,
        f"No claim named nobody in namespace {namespace}.\n",
    )
    everywhere = ipam("who", "10.63.0.1", "-A", config)
    assert everywhere.stdout.splitlines()[0].split()[0] == "NAMESPACE"
    assert [namespace, "10.63.0.1", "edge", "IPClaim/web"] in [
        line.split()[:4] for line in everywhere.stdout.splitlines()
    ]
