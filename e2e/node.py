"""A real node beside a harness control plane: containerd and a kubelet in their own namespaces.

:class:`Node` runs ``e2e/node_assets/launch.sh`` under ``unshare`` (PID and mount
namespaces, as PID 1 of its own): containerd with a private root, state and socket, and
the kubelet from the pinned toolchain, registered with a :class:`~e2e.nodeplane.NodePlane`.
Pods get a CNI bridge of the node's :class:`~e2e.host.Slot` and reach the API server at
the ``kubernetes`` Service IP through :mod:`e2e.forwarder`. Images are imported from OCI
archives (:mod:`e2e.images`); nothing is pulled.

Stopping the launcher ends every process of the node, containers included, and every
mount; :func:`e2e.host.cleanup` removes the rest. ``make node`` runs one in the
foreground::

    with Node(plane) as node:
        node.import_image(images.build_controller_image())
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from e2e import host, images, kubeconfig, pki, ports, processes
from e2e.nodeplane import NodePlane
from e2e.toolchain import REPO

LAUNCHER = REPO / "e2e" / "node_assets" / "launch.sh"


class NodeError(RuntimeError):
    """The node did not come up; the message carries the end of the relevant log."""


class Node:
    """containerd + kubelet for one NodePlane, started and stopped as one."""

    def __init__(self, plane: NodePlane, name: str = "node-0") -> None:
        self.plane = plane
        self.name = name
        self.slot = plane.slot
        self.dir = plane.workdir / "node"
        self.socket = self.dir / "containerd" / "containerd.sock"
        logs = self.dir / "logs"
        self.launcher = processes.Process(
            "node",
            [
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--propagation",
                "private",
                "--mount-proc",
                "bash",
                str(LAUNCHER),
                str(self.dir),
                str(plane.tools.kubelet),
            ],
            logs / "launcher.log",
        )
        self.forwarder = processes.Process(
            "forwarder",
            [
                sys.executable,
                "-m",
                "e2e.forwarder",
                self.slot.service_ip,
                "443",
                "127.0.0.1",
                str(plane.ports["apiserver"]),
            ],
            logs / "forwarder.log",
            cwd=REPO,
        )

    # --- configuration -----------------------------------------------------------------------

    def _write_config(self) -> None:
        d = self.dir
        for sub in ("containerd", "cni/net.d", "cni/ipam", "kubelet/pki", "pod-logs", "logs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "node-name").write_text(self.name)
        (d / "node-ip").write_text(host.node_ip())
        (d / "sysctls").write_text("".join(f"{key}\n" for key in host.SYSCTLS))
        (d / "containerd.toml").write_text(self._containerd_config())
        (d / "cni" / "net.d" / "10-capi-ipam.conflist").write_text(json.dumps(self._cni_config()))
        (d / "kubelet.yaml").write_text(yaml.safe_dump(self._kubelet_config()))
        cert, key = pki.client_certificate(
            self.plane.pki, f"kubelet-{self.name}", f"system:node:{self.name}", "system:masters"
        )
        kubeconfig.write_certificate(
            d / "kubelet.kubeconfig",
            name=self.plane.name,
            server=self.plane.server,
            ca=self.plane.pki.ca_cert,
            cert=cert,
            key=key,
        )

    def _containerd_config(self) -> str:
        d = self.dir / "containerd"
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        # restrict_oom_score_adj: root may lack CAP_SYS_RESOURCE, and a negative score is
        # then refused, which fails every sandbox.
        return "\n".join(
            [
                "version = 2",
                f'root = "{d}/root"',
                f'state = "{d}/state"',
                "[grpc]",
                f'  address = "{self.socket}"',
                "[ttrpc]",
                f'  address = "{self.socket}.ttrpc"',
                f"[{cri}]",
                f'  sandbox_image = "{images.PAUSE_IMAGE}"',
                "  disable_apparmor = true",
                "  restrict_oom_score_adj = true",
                f"[{cri}.containerd]",
                '  snapshotter = "overlayfs"',
                '  default_runtime_name = "runc"',
                f"[{cri}.containerd.runtimes.runc]",
                '  runtime_type = "io.containerd.runc.v2"',
                f"[{cri}.containerd.runtimes.runc.options]",
                "  SystemdCgroup = false",
                f"[{cri}.cni]",
                f'  bin_dir = "{host.CNI_DIR}"',
                f'  conf_dir = "{self.dir}/cni/net.d"',
                "",
            ]
        )

    def _cni_config(self) -> dict[str, Any]:
        return {
            "cniVersion": "1.0.0",
            "name": self.slot.network,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.slot.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": self.slot.pod_subnet}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.dir / "cni" / "ipam"),
                    },
                }
            ],
        }

    def _kubelet_config(self) -> dict[str, Any]:
        cgroup_v1 = not (host.CGROUP_ROOT / "cgroup.controllers").exists()
        config: dict[str, Any] = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{self.slot.cgroup_parent}",
            "failSwapOn": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "address": (self.dir / "node-ip").read_text(),
            "port": ports.free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": ports.free_port(),
            "podLogsDir": str(self.dir / "pod-logs"),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(self.plane.pki.ca_cert)},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDomain": "cluster.local",
            "resolvConf": "/etc/resolv.conf",
            "registerNode": True,
            "evictionHard": {
                "memory.available": "1Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            # Imported images cannot be pulled again: never collect them.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
        }
        if cgroup_v1:
            config["failCgroupV1"] = False
        return config

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> Node:
        host.cleanup(self.slot)
        self._write_config()
        host.create_cgroups(self.slot)
        host.add_service_ip(self.slot)
        self.forwarder.start()
        self._wait("the Service IP forwarder", self._forwarding, 30)
        self.launcher.start()
        self._wait("containerd", self.socket.exists, 30)
        self.import_image(images.build_pause_image())
        self._wait(f"Node {self.name} Ready", self.ready, timeout)
        return self

    def stop(self) -> None:
        self.launcher.stop(timeout=30)
        self.forwarder.stop()
        host.cleanup(self.slot)

    def _forwarding(self) -> bool:
        if not self.forwarder.running:
            raise NodeError(f"the forwarder exited:\n{self.forwarder.log_tail()}")
        try:
            with socket.create_connection((self.slot.service_ip, 443), timeout=2):
                return True
        except OSError:
            return False

    def ready(self) -> bool:
        node = self.plane.get_json("node", self.name)
        if not node:
            return False
        taints = node.get("spec", {}).get("taints") or []
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        return conditions.get("Ready") == "True" and not any(
            t["key"] == "node.kubernetes.io/not-ready" for t in taints
        )

    def _wait(self, what: str, check: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.launcher.pid is not None and not self.launcher.running:
                raise NodeError(f"the node exited while waiting for {what}:\n{self.log_tails()}")
            if check():
                return
            time.sleep(0.3)
        raise NodeError(f"{what}: not after {timeout:.0f}s:\n{self.log_tails()}")

    def log_tails(self, lines: int = 25) -> str:
        parts = []
        for name in ("launcher", "containerd", "kubelet", "forwarder"):
            path = self.dir / "logs" / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- images ------------------------------------------------------------------------------

    def ctr(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def import_image(self, archive: Path) -> None:
        """Import an OCI archive; the CRI sees it under the name written in the archive."""
        self.ctr("images", "import", "--no-unpack=false", str(archive))

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> int:
    """``make node``: a control plane with a node and the images, until Ctrl-C."""
    from e2e.toolchain import ensure_tools

    tools = ensure_tools()
    reason = host.unavailable(tools)
    if reason:
        print(f"No node on this machine: {reason}.", file=sys.stderr)
        return 1
    processes.install_signal_handlers()
    started = time.monotonic()
    controller = images.build_controller_image()
    lease = host.acquire_slot()
    plane = NodePlane("node", lease.slot, tools=tools)
    node = Node(plane)
    try:
        plane.start()
        node.start()
        node.import_image(controller)
        print(
            f"Control plane and node {node.name} ready in {time.monotonic() - started:.0f}s, "
            f"image {images.CONTROLLER_IMAGE} imported.\n\n"
            f"  export KUBECONFIG={plane.kubeconfig_path}\n"
            "  make deploy && make deploy-examples\n"
            "  kubectl -n metal3-ipam-system get pods\n\n"
            f"Logs in {node.dir / 'logs'}. Ctrl-C stops everything.",
            flush=True,
        )
        while node.launcher.running:
            time.sleep(1)
        print(f"The node exited:\n{node.log_tails()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
        return 0
    finally:
        node.stop()
        plane.stop()
        lease.release()


if __name__ == "__main__":
    sys.exit(main())
