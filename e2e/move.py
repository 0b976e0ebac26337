"""``clusterctl move`` between two harness clusters, with what clusterctl checks first.

clusterctl refuses to move a Cluster whose infrastructure is still provisioning or a
Machine without a node. Clusters are provisioned by Cluster API's own Cluster controller
(from the stand-in providers of ``e2e.providers``), so the move first waits for it to say
so. Only a Machine's nodeRef is written by hand: no node ever joins a harness cluster.
Everything else is the real clusterctl, including its backup and restore
(``--to-directory`` / ``--from-directory``).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from e2e.cluster import Cluster
from e2e.toolchain import ensure_tools

PROVISIONING_TIMEOUT = 60.0


class MoveError(RuntimeError):
    """clusterctl move failed; the message carries its output."""


def _not_provisioned(item: dict[str, Any]) -> str | None:
    """What clusterctl would find missing in a Cluster's status, or None."""
    status = item.get("status") or {}
    initialization = status.get("initialization") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if not initialization.get("infrastructureProvisioned"):
        return "infrastructure not provisioned"
    if conditions.get("ControlPlaneInitialized") != "True":
        return "control plane not initialized"
    if (item.get("spec") or {}).get("controlPlaneRef") and not initialization.get(
        "controlPlaneInitialized"
    ):
        return "control plane not initialized"
    return None


def wait_provisioned(
    cluster: Cluster, namespace: str, timeout: float = PROVISIONING_TIMEOUT
) -> None:
    """Wait until Cluster API reports every Cluster of the namespace as clusterctl requires."""
    deadline = time.monotonic() + timeout
    while True:
        found = cluster.get_json("clusters.cluster.x-k8s.io", "-n", namespace) or {"items": []}
        waiting = {
            item["metadata"]["name"]: reason
            for item in found["items"]
            if (reason := _not_provisioned(item)) is not None
        }
        if not waiting:
            return
        if time.monotonic() > deadline:
            listed = ", ".join(f"{name} ({reason})" for name, reason in sorted(waiting.items()))
            raise MoveError(
                f"clusterctl would refuse to move {namespace}: after {timeout:.0f}s Cluster API "
                f"on {cluster.name} still reports {listed}. A Cluster written as "
                "`workloadCluster: NAME` is provisioned within seconds; one created paused "
                "is never reconciled, so create it unpaused and pause it afterwards."
            )
        time.sleep(0.5)


def mark_provisioned(cluster: Cluster, namespace: str) -> None:
    """Give each Machine of the namespace a nodeRef, since no node ever joins a harness cluster.

    This is the only status the harness writes for clusterctl: Clusters are provisioned by
    Cluster API's Cluster controller (see :func:`wait_provisioned`), and nothing here
    provisions a Machine's node.
    """
    machines = cluster.get_json("machines.cluster.x-k8s.io", "-n", namespace) or {"items": []}
    for item in machines["items"]:
        name = item["metadata"]["name"]
        cluster.kubectl(
            "patch",
            "machines.cluster.x-k8s.io",
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"nodeRef": {"name": name}}}),
        )


MOVE_TIMEOUT = 300.0


def clusterctl(*args: str, timeout: float = MOVE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run the pinned clusterctl offline: no version check, an empty config.

    Past ``timeout`` seconds it is killed and :class:`MoveError` carries what it printed.
    """
    tools = ensure_tools()
    with tempfile.TemporaryDirectory(prefix="clusterctl-") as home:
        config = Path(home) / "clusterctl.yaml"
        config.write_text("{}\n")
        env = dict(os.environ)
        env.update(
            {
                "CLUSTERCTL_DISABLE_VERSIONCHECK": "true",
                "XDG_CONFIG_HOME": home,
                "HOME": home,
            }
        )
        try:
            return subprocess.run(
                [str(tools.clusterctl), *args, f"--config={config}"],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            printed = "".join(_text(part) for part in (err.stdout, err.stderr))
            raise MoveError(
                f"clusterctl {' '.join(args)} did not finish within {timeout:g} s:\n{printed}"
            ) from None


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _checked(what: str, proc: subprocess.CompletedProcess[str]) -> str:
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise MoveError(f"{what} failed ({proc.returncode}):\n{output}")
    return output


def move(source: Cluster, target: Cluster, namespace: str, *, timeout: float = MOVE_TIMEOUT) -> str:
    """Move every Cluster API object of ``namespace`` from ``source`` to ``target``."""
    wait_provisioned(source, namespace)
    mark_provisioned(source, namespace)
    proc = clusterctl(
        "move",
        f"--kubeconfig={source.kubeconfig_path}",
        f"--to-kubeconfig={target.kubeconfig_path}",
        f"--namespace={namespace}",
        "-v",
        "3",
        timeout=timeout,
    )
    return _checked(f"clusterctl move -n {namespace}", proc)


def backup(
    source: Cluster, directory: Path, namespace: str, *, timeout: float = MOVE_TIMEOUT
) -> str:
    """``clusterctl move --to-directory``: the namespace's objects as files; the source keeps them.

    clusterctl pauses the namespace's Clusters while it writes and unpauses them after,
    so a backup file of a Cluster says ``paused: true``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wait_provisioned(source, namespace)
    mark_provisioned(source, namespace)  # clusterctl checks this before a backup too
    proc = clusterctl(
        "move",
        f"--kubeconfig={source.kubeconfig_path}",
        f"--to-directory={directory}",
        f"--namespace={namespace}",
        "-v",
        "3",
        timeout=timeout,
    )
    return _checked(f"clusterctl move -n {namespace} --to-directory", proc)


def restore(target: Cluster, directory: Path, *, timeout: float = MOVE_TIMEOUT) -> str:
    """``clusterctl move --from-directory``: create a backup's objects (without status) in ``target``.

    Objects that already exist there are left as they are; restored Clusters are unpaused.
    """
    if not directory.is_dir():
        raise MoveError(f"no backup directory {directory}")
    proc = clusterctl(
        "move",
        f"--to-kubeconfig={target.kubeconfig_path}",
        f"--from-directory={directory}",
        "-v",
        "3",
        timeout=timeout,
    )
    return _checked("clusterctl move --from-directory", proc)
