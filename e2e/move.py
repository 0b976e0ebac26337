"""``clusterctl move`` between two harness clusters, with what clusterctl checks first.

clusterctl refuses to move a Cluster whose infrastructure is still provisioning or a
Machine without a node. In the harness nothing provisions anything, so before moving,
every Cluster in the namespace is marked provisioned through its status subresource and
every Machine gets a nodeRef. Everything else is the real clusterctl, including its
backup and restore (``--to-directory`` / ``--from-directory``).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import tempfile
from pathlib import Path

from e2e.cluster import Cluster
from e2e.toolchain import ensure_tools


class MoveError(RuntimeError):
    """clusterctl move failed; the message carries its output."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mark_provisioned(cluster: Cluster, namespace: str) -> None:
    """Make each Cluster and Machine of the namespace look provisioned to clusterctl."""
    clusters = cluster.get_json("clusters.cluster.x-k8s.io", "-n", namespace) or {"items": []}
    for item in clusters["items"]:
        status = {
            "initialization": {"infrastructureProvisioned": True, "controlPlaneInitialized": True},
            "conditions": [
                {
                    "type": "ControlPlaneInitialized",
                    "status": "True",
                    "reason": "Initialized",
                    "message": "",
                    "lastTransitionTime": _now(),
                }
            ],
        }
        cluster.kubectl(
            "patch",
            "clusters.cluster.x-k8s.io",
            item["metadata"]["name"],
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )
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
