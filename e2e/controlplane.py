"""A real management cluster on loopback: etcd, kube-apiserver, kube-controller-manager, Cluster API.

Each ControlPlane lives in its own directory (certificates, etcd data, logs, kubeconfig),
listens on free loopback ports, runs the API server with RBAC on, and runs the
controller-manager's garbage collector, namespace and service-account controllers so
ownerRef cascades and namespace deletion behave as in a real cluster. Beside them runs
the Cluster API core manager (``e2e.capi``) with its webhooks and CRD conversion
registered by URL, as ``clusterctl init`` leaves a management cluster. It is a context
manager in the style of testcontainers / pytest-kind::

    with ControlPlane("source") as cp:
        cp.kubectl("get", "namespaces")

Restarts (API server, etcd, or all of it) keep the data and the ports.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from e2e import capi, install, kubeconfig, pki, ports, processes
from e2e.cluster import Cluster
from e2e.toolchain import Tools, ensure_tools

KCM_CONTROLLERS = ",".join(
    [
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "root-ca-certificate-publisher-controller",
    ]
)


class ControlPlaneError(RuntimeError):
    """A component did not start; the message carries the end of its log."""


PORTS = ("etcd", "etcd_peer", "apiserver", "capi_webhook", "capi_health", "capi_diagnostics")


class ControlPlane(Cluster):
    """etcd + kube-apiserver + kube-controller-manager + Cluster API, started and stopped as one.

    ``install_crds=False`` gives a bare Kubernetes (no CRDs, no Cluster API);
    ``cluster_api=False`` installs the CRDs without running the Cluster API manager.
    """

    def __init__(
        self,
        name: str,
        workdir: Path | None = None,
        *,
        tools: Tools | None = None,
        keep_data: bool | None = None,
        install_crds: bool = True,
        cluster_api: bool = True,
    ) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"capi-ipam-{name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keep_data = (not self._own_dir) if keep_data is None else keep_data
        self.tools = tools or ensure_tools()
        self.install_crds = install_crds
        super().__init__(name, self.workdir / "admin.kubeconfig")
        self.pki = pki.create(self.workdir / "pki")
        self.ports = self._ports()
        logs = self.workdir / "logs"
        self.etcd = processes.Process("etcd", self._etcd_argv(), logs / "etcd.log")
        self.apiserver = processes.Process(
            "kube-apiserver", self._apiserver_argv(), logs / "kube-apiserver.log"
        )
        self.controller_manager = processes.Process(
            "kube-controller-manager", self._kcm_argv(), logs / "kube-controller-manager.log"
        )
        self.capi_manager: capi.Manager | None = None
        if install_crds and cluster_api:
            self.capi_manager = capi.Manager(
                self.tools,
                kubeconfig_path=self.kubeconfig_path,
                cert_dir=self.pki.webhook_dir,
                ports=self.ports,
                log_path=logs / "capi-manager.log",
            )

    # --- configuration -------------------------------------------------------------------

    def _ports(self) -> dict[str, int]:
        """The ports of every server, kept in the work directory across restarts and runs."""
        path = self.workdir / "ports.json"
        chosen: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
        missing = [name for name in PORTS if name not in chosen]
        if missing:
            chosen.update({name: ports.free_port() for name in missing})
            path.write_text(json.dumps(chosen))
        return chosen

    @property
    def capi_endpoint(self) -> capi.Endpoint | None:
        """Where the API server reaches Cluster API's webhooks, when the manager runs here."""
        if self.capi_manager is None:
            return None
        return capi.Endpoint(self.ports["capi_webhook"], self.pki.ca_cert)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        return [
            str(self.tools.etcd),
            f"--name={self.name}",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={self.name}={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_argv(self) -> list[str]:
        p = self.pki
        return [
            str(self.tools.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self.workdir / 'pki'}",
            f"--tls-cert-file={p.serving_cert}",
            f"--tls-private-key-file={p.serving_key}",
            f"--client-ca-file={p.ca_cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p.sa_pub}",
            f"--service-account-signing-key-file={p.sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            "--enable-priority-and-fairness=false",
            "--v=1",
        ]

    def _kcm_argv(self) -> list[str]:
        kcm_config = kubeconfig.write_certificate(
            self.workdir / "controller-manager.kubeconfig",
            name=self.name,
            server=self.server,
            ca=self.pki.ca_cert,
            cert=self.pki.kcm_cert,
            key=self.pki.kcm_key,
        )
        return [
            str(self.tools.kube_controller_manager),
            f"--kubeconfig={kcm_config}",
            f"--controllers={KCM_CONTROLLERS}",
            f"--service-account-private-key-file={self.pki.sa_key}",
            f"--root-ca-file={self.pki.ca_cert}",
            "--leader-elect=false",
            "--secure-port=0",
            "--use-service-account-credentials=false",
            "--concurrent-gc-syncs=5",
            "--v=1",
        ]

    # --- lifecycle -------------------------------------------------------------------------

    def launch_etcd(self) -> None:
        self.etcd.start()

    def wait_etcd(self, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        self._poll(self.etcd, timeout, lambda: self._get(url, tls=False) == 200)

    def launch_apiserver(self) -> None:
        self.apiserver.start()

    def wait_apiserver(self, timeout: float = 120) -> None:
        self._poll(self.apiserver, timeout, lambda: self._get(f"{self.server}/readyz") == 200)

    def launch_controller_manager(self) -> None:
        kubeconfig.write_certificate(
            self.kubeconfig_path,
            name=self.name,
            server=self.server,
            ca=self.pki.ca_cert,
            cert=self.pki.admin_cert,
            key=self.pki.admin_key,
        )
        self.controller_manager.start()

    def install(self) -> None:
        """Install what every cluster of the harness has: CRDs and the provider inventory."""
        if self.install_crds:
            install.install_all(self, self.tools, conversion=self.capi_endpoint)

    def launch_cluster_api(self) -> None:
        if self.capi_manager is not None:
            self.capi_manager.start()

    def wait_cluster_api(self, timeout: float = 120) -> None:
        """Wait for the manager's webhook server, then register its webhooks by URL."""
        endpoint = self.capi_endpoint
        if self.capi_manager is None or endpoint is None:
            return
        try:
            self.capi_manager.wait_ready(timeout)
        except capi.ClusterAPIError as err:
            raise ControlPlaneError(f"{self.name}: {err}") from None
        self.apply(_as_list(capi.webhook_configurations(self.tools, endpoint)))

    def wait_for_default_service_account(self, timeout: float = 60) -> None:
        def ready() -> bool:
            out = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
            return out.returncode == 0

        self._poll(self.controller_manager, timeout, ready)

    def start(self) -> ControlPlane:
        start_all(self)
        return self

    def stop(self) -> None:
        if self.capi_manager is not None:
            self.capi_manager.stop()
        for proc in (self.controller_manager, self.apiserver, self.etcd):
            proc.stop()
        if not self.keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_apiserver(self, down: float = 0.0) -> None:
        """Stop the API server and start it again (after ``down`` seconds: an outage)."""
        self.apiserver.stop()
        time.sleep(down)
        self.launch_apiserver()
        self.wait_apiserver()

    def restart_etcd(self, down: float = 0.0) -> None:
        """Stop etcd under the API server and start it again (after ``down`` seconds)."""
        self.etcd.stop()
        time.sleep(down)
        self.launch_etcd()
        self.wait_etcd()
        self.wait_apiserver()

    def restart(self, down: float = 0.0) -> None:
        """Everything stops and starts again, as when a management cluster's node reboots."""
        if self.capi_manager is not None:
            self.capi_manager.stop()
        for proc in (self.controller_manager, self.apiserver, self.etcd):
            proc.stop()
        time.sleep(down)
        self.launch_etcd()
        self.wait_etcd()
        self.launch_apiserver()
        self.wait_apiserver()
        self.launch_controller_manager()
        self.launch_cluster_api()
        self.wait_cluster_api()

    def programs(self) -> list[processes.Process]:
        found = [self.etcd, self.apiserver, self.controller_manager]
        if self.capi_manager is not None:
            found.append(self.capi_manager.process)
        return found

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- helpers ---------------------------------------------------------------------------

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        ctx.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return ctx

    def _get(self, url: str, *, tls: bool = True) -> int:
        try:
            with urllib.request.urlopen(url, timeout=5, context=self._ssl() if tls else None) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except (OSError, ssl.SSLError):
            return 0

    def _poll(self, proc: processes.Process, timeout: float, ready: object) -> None:
        deadline = time.monotonic() + timeout
        check = ready if callable(ready) else (lambda: False)
        while time.monotonic() < deadline:
            if not proc.running:
                raise ControlPlaneError(
                    f"{self.name}: {proc.name} exited with {proc.returncode}:\n{proc.log_tail()}"
                )
            if check():
                return
            time.sleep(0.2)
        raise ControlPlaneError(
            f"{self.name}: {proc.name} not ready after {timeout:.0f}s:\n{proc.log_tail()}"
        )


def _as_list(docs: list[dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})


def start_all(*planes: ControlPlane) -> None:
    """Start several control planes side by side: each stage overlaps across planes.

    Programs are launched from the calling (main) thread, since they are tied to the
    life of the thread that starts them; the waiting overlaps because every program of a
    stage is launched before any of them is waited for. The CRD installs, which only run
    kubectl, overlap in threads.
    """
    try:
        for cp in planes:
            cp.launch_etcd()
        for cp in planes:
            cp.wait_etcd()
        for cp in planes:
            cp.launch_apiserver()
        for cp in planes:
            cp.wait_apiserver()
        for cp in planes:
            cp.launch_controller_manager()
        with concurrent.futures.ThreadPoolExecutor(len(planes)) as pool:
            for done in [pool.submit(cp.install) for cp in planes]:
                done.result()
        for cp in planes:
            cp.launch_cluster_api()
        for cp in planes:
            cp.wait_cluster_api()
        for cp in planes:
            cp.wait_for_default_service_account()
    except BaseException:
        for cp in planes:
            with contextlib.suppress(Exception):
                cp.stop()
        raise
