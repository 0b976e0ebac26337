"""Locate the Go-built programs, building them once through ``e2e/toolchain/build.sh``."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "e2e" / "toolchain" / "build.sh"


class ToolchainError(RuntimeError):
    """The programs could not be built; the message says what is missing."""


@dataclass(frozen=True)
class Tools:
    """Paths of the programs a control plane and a move need, and their versions."""

    directory: Path
    kubernetes_version: str
    etcd_version: str
    cluster_api_version: str
    cluster_api_source: Path

    @property
    def etcd(self) -> Path:
        return self.directory / "bin" / "etcd"

    @property
    def kube_apiserver(self) -> Path:
        return self.directory / "bin" / "kube-apiserver"

    @property
    def kube_controller_manager(self) -> Path:
        return self.directory / "bin" / "kube-controller-manager"

    @property
    def clusterctl(self) -> Path:
        return self.directory / "bin" / "clusterctl"

    @property
    def capi_manager(self) -> Path:
        """The Cluster API core manager (``sigs.k8s.io/cluster-api/core``)."""
        return self.directory / "bin" / "capi-manager"

    @property
    def kubelet(self) -> Path:
        return self.directory / "bin" / "kubelet"

    @property
    def kube_scheduler(self) -> Path:
        return self.directory / "bin" / "kube-scheduler"

    @property
    def kubectl(self) -> Path:
        found = shutil.which("kubectl")
        if not found:
            raise ToolchainError("kubectl is not on PATH (Debian: apt-get install kubectl)")
        return Path(found)


@functools.cache
def ensure_tools() -> Tools:
    """Build what is missing (cached per version outside the repo) and describe it."""
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, stderr=None, text=True, check=False
    )
    if proc.returncode != 0:
        raise ToolchainError(
            f"{BUILD_SCRIPT} failed (exit {proc.returncode}); see its output above"
        )
    directory = Path(proc.stdout.strip().splitlines()[-1])
    values = dict(
        line.split("=", 1)
        for line in (directory / "versions.env").read_text().splitlines()
        if "=" in line
    )
    return Tools(
        directory=directory,
        kubernetes_version=values["KUBERNETES_VERSION"],
        etcd_version=values["ETCD_VERSION"],
        cluster_api_version=values["CLUSTER_API_VERSION"],
        cluster_api_source=Path(values["CLUSTER_API_DIR"]),
    )


def tools_from_env() -> Tools:
    """Like :func:`ensure_tools`, honouring ``IPAM_TOOLS_CACHE`` for the cache location."""
    os.environ.setdefault("IPAM_TOOLS_CACHE", str(Path.home() / ".cache" / "capi-ipam" / "tools"))
    return ensure_tools()
