"""What every cluster of the harness offers: a name, a kubeconfig, kubectl and JSON reads.

``ControlPlane`` (a cluster the harness runs) and ``ExternalCluster`` (one the user
already has, such as kind on a laptop, named by a kubeconfig file) share this interface,
so fixtures, scenarios and the move helper work on either.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from e2e.toolchain import ensure_tools


class KubectlError(RuntimeError):
    """kubectl exited non-zero; the message has the command and its stderr."""

    def __init__(self, args: list[str], proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        super().__init__(
            f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
        )


class NotSupported(RuntimeError):
    """The operation needs a cluster the harness runs itself."""


def run_kubectl(
    kubeconfig_path: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    argv = ["kubectl", f"--kubeconfig={kubeconfig_path}", *args]
    proc = subprocess.run(
        argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise KubectlError(list(args), proc)
    return proc


class Cluster:
    """A Kubernetes cluster reached through a kubeconfig file."""

    def __init__(self, name: str, kubeconfig_path: Path) -> None:
        self.name = name
        self.kubeconfig_path = Path(kubeconfig_path)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.kubeconfig_path, *args, input=input, check=check, timeout=timeout)

    def get_json(self, *args: str) -> Any:
        """``kubectl get ARGS -o json`` parsed; None when the object does not exist."""
        proc = self.kubectl("get", *args, "-o", "json", check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise KubectlError(["get", *args], proc)
        return json.loads(proc.stdout)

    def apply(self, manifest: str, *, server_side: bool = True) -> None:
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", "--force-conflicts", "--field-manager=capi-ipam-harness"]
        self.kubectl(*args, input=manifest, timeout=120)

    def restart_apiserver(self, down: float = 0.0) -> None:
        raise NotSupported(f"{self.name}: restarting the API server is not supported here")

    def restart_etcd(self, down: float = 0.0) -> None:
        raise NotSupported(f"{self.name}: restarting etcd is not supported here")

    def restart(self, down: float = 0.0) -> None:
        raise NotSupported(f"{self.name}: restarting the control plane is not supported here")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {str(self.kubeconfig_path)!r})"


class ExternalCluster(Cluster):
    """A cluster the user runs (kind with ``clusterctl init``, a lab cluster).

    The harness runs nothing there: it checks that Cluster API is installed and answers
    (``e2e.capi.check``; a ``ClusterAPIError`` says what to run otherwise), then installs
    this project's CRDs, the stand-in providers' CRDs and this provider's inventory entry,
    leaving Cluster API's own CRDs and inventory as ``clusterctl init`` made them.
    """

    cluster_api_version: str | None = None

    def prepare(self) -> ExternalCluster:
        from e2e import capi, install

        self.cluster_api_version = capi.check(self).version
        install.install_all(self, ensure_tools(), cluster_api=False)
        return self
