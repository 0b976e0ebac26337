"""Run the controller as a separate process, exactly as a user runs it, under its own RBAC.

The runner applies ``config/namespace.yaml`` and ``config/rbac/`` to the cluster, asks
the API server for a token of the ``ipam-manager`` ServiceAccount (TokenRequest), and
starts the controller with a kubeconfig that holds only that token: every test that
runs the controller also proves the permissions it ships with.

A runner given ``namespaces`` serves only those (``--namespace`` each) and one given a
``lease_name`` elects its leader on that Lease, so the controllers of one test never see
another test's objects or wait for another test's Lease; flags a test passes itself
(``--all-namespaces``, ``--leader-election-id=...``) win over these defaults.
"""

from __future__ import annotations

import functools
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from e2e import kubeconfig, ports, processes
from e2e.cluster import Cluster
from e2e.toolchain import REPO

SERVICE_ACCOUNT = "ipam-manager"
SYSTEM_NAMESPACE = "metal3-ipam-system"
RBAC_FILES = (REPO / "config" / "namespace.yaml", REPO / "config" / "rbac")


def install_rbac(cluster: Cluster) -> None:
    """Apply the namespace and the RBAC the project ships (idempotent)."""
    for path in RBAC_FILES:
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for f in files:
            if f.name == "kustomization.yaml":
                continue
            cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(f))


@functools.cache
def _server_and_ca(kubeconfig_path: Path) -> tuple[str, str | None]:
    return kubeconfig.read_server(kubeconfig_path)


def service_account_kubeconfig(
    cluster: Cluster,
    directory: Path,
    *,
    service_account: str = SERVICE_ACCOUNT,
    namespace: str = SYSTEM_NAMESPACE,
) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount and nothing else."""
    token = cluster.kubectl(
        "create", "token", service_account, "-n", namespace, "--duration=24h"
    ).stdout.strip()
    server, ca = _server_and_ca(cluster.kubeconfig_path)
    directory.mkdir(parents=True, exist_ok=True)
    return kubeconfig.write_token(
        directory / f"{service_account}.kubeconfig",
        name=f"{cluster.name}-{service_account}",
        server=server,
        ca=Path(ca) if ca else Path(),
        token=token,
    )


SCOPE_FLAGS = frozenset({"--namespace", "-n", "--all-namespaces", "-A"})
LEASE_FLAGS = frozenset({"--leader-election-id"})


def default_command(
    metrics_port: int,
    health_port: int,
    *,
    namespaces: Sequence[str] = (),
    lease_name: str | None = None,
) -> list[str]:
    """``python -m ipam run`` on these ports, serving ``namespaces`` (default: all)."""
    scope = [f"--namespace={ns}" for ns in namespaces] or ["--all-namespaces"]
    lease = [f"--leader-election-id={lease_name}"] if lease_name else []
    return [
        sys.executable,
        "-m",
        "ipam",
        "run",
        *scope,
        *lease,
        f"--metrics-port={metrics_port}",
        f"--health-port={health_port}",
    ]


def _flags(args: Sequence[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in args if arg.startswith("-")}


class ControllerRunner:
    """One controller process: start, stop, SIGKILL, restart; several may run at once."""

    def __init__(
        self,
        cluster: Cluster,
        workdir: Path,
        *,
        name: str = "main",
        command: Sequence[str] | None = None,
        extra_args: Sequence[str] = (),
        namespaces: Sequence[str] = (),
        lease_name: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.name = name
        self.workdir = workdir
        self.metrics_port = ports.free_port()
        self.health_port = ports.free_port()
        self.command = list(command) if command else None
        self.extra_args = list(extra_args)
        self.namespaces = namespaces
        """Read at every start, so namespaces a test adds before starting are served too."""
        self.lease_name = lease_name
        self._process: processes.Process | None = None
        self.log_path = workdir / f"controller-{cluster.name}-{name}.log"

    @property
    def argv(self) -> list[str]:
        """The command line the next start runs."""
        if self.command is not None:
            return self.command + self.extra_args
        own = _flags(self.extra_args)
        base = default_command(
            self.metrics_port,
            self.health_port,
            namespaces=() if own & SCOPE_FLAGS else tuple(self.namespaces),
            lease_name=None if own & LEASE_FLAGS else self.lease_name,
        )
        if own & SCOPE_FLAGS:
            base.remove("--all-namespaces")
        return base + self.extra_args

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        """The controller's process id while it runs (it is the Python process itself)."""
        return self._process.pid if self.running and self._process else None

    def start(self, args: Sequence[str] | None = None, *, rbac: bool = True) -> ControllerRunner:
        """Start it (nothing when it runs); ``args`` replace the extra flags from now on.

        config/rbac is applied first, unless ``rbac`` is False.
        """
        if args is not None:
            self.extra_args = list(args)
        if self.running:
            return self
        if rbac:
            install_rbac(self.cluster)
        config = service_account_kubeconfig(self.cluster, self.workdir / "sa" / self.cluster.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        env["KUBECONFIG"] = str(config)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self._process = processes.Process(
            f"controller-{self.name}", self.argv, self.log_path, env=env, cwd=REPO
        ).start()
        return self

    def stop(self, timeout: float = 15) -> None:
        if self._process is not None:
            self._process.stop(timeout)

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def restart(self, args: Sequence[str] | None = None) -> ControllerRunner:
        self.stop()
        return self.start(args)

    def readiness(self) -> tuple[bool, str]:
        """Whether /readyz on the health port answers 200, and what it answered."""
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status == 200, f"/readyz: {answer.status}"
        except urllib.error.HTTPError as err:
            return False, f"/readyz: {err.code} {err.read().decode(errors='replace').strip()}"
        except OSError as err:
            return False, f"/readyz: {err}"

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    def log_tail(self, lines: int = 50) -> str:
        return self._process.log_tail(lines) if self._process else ""

    def wait_for_log(self, needle: str, timeout: float = 30, *, after: str = "") -> bool:
        """Whether ``needle`` shows in the log (after the last ``after``, if given) in time."""

        def found() -> bool:
            text = self.log_tail(100_000)
            if after:
                at = text.rfind(after)
                if at < 0:
                    return False
                text = text[at + len(after) :]
            return needle in text

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found():
                return True
            if self._process is not None and not self._process.running:
                return found()
            time.sleep(0.2)
        return False
