"""A harness control plane that can run Pods: a scheduler, the workload controllers, kubelet access.

:class:`NodePlane` is a :class:`~e2e.controlplane.ControlPlane` with what a node needs on
the control-plane side: kube-scheduler; the Deployment, ReplicaSet and node-lifecycle
controllers (the last one lifts the ``not-ready`` taint a new Node is created with) and the
EndpointSlice controller, whose slices the API server follows to reach a webhook's Service
(``--enable-aggregator-routing``: the Pod's address, as there is no kube-proxy); the
API server's client certificate for ``kubectl logs``/``exec`` on the kubelet; and the
service range of its :class:`~e2e.host.Slot`, whose first address (the ``kubernetes``
Service) is in the serving certificate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from e2e import controlplane, kubeconfig, pki, processes
from e2e.host import Slot
from e2e.toolchain import Tools

NODE_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "node-lifecycle-controller",
    "endpointslice-controller",
)


class NodePlane(controlplane.ControlPlane):
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler, ready for a kubelet."""

    def __init__(
        self,
        name: str,
        slot: Slot,
        workdir: Path | None = None,
        *,
        tools: Tools | None = None,
        keep_data: bool | None = None,
    ) -> None:
        self.slot = slot
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"capi-ipam-{name}-"))
            keep_data = False if keep_data is None else keep_data
        # Written before the base class would write its own, with this slot's Service IP.
        pki.create(Path(workdir) / "pki", service_ip=slot.service_ip)
        super().__init__(name, workdir, tools=tools, keep_data=keep_data)
        self.scheduler = processes.Process(
            "kube-scheduler", self._scheduler_argv(), self.workdir / "logs" / "kube-scheduler.log"
        )

    def _apiserver_argv(self) -> list[str]:
        argv = [
            a
            if not a.startswith("--service-cluster-ip-range=")
            else f"--service-cluster-ip-range={self.slot.service_cidr}"
            for a in super()._apiserver_argv()
        ]
        return [
            *argv,
            "--kubelet-preferred-address-types=InternalIP",
            # Webhooks behind a Service are called at a ready Pod's address (no kube-proxy).
            "--enable-aggregator-routing=true",
            f"--kubelet-client-certificate={self.pki.admin_cert}",
            f"--kubelet-client-key={self.pki.admin_key}",
        ]

    def _kcm_argv(self) -> list[str]:
        return [
            f"{a},{','.join(NODE_CONTROLLERS)}" if a.startswith("--controllers=") else a
            for a in super()._kcm_argv()
        ]

    def _scheduler_argv(self) -> list[str]:
        config = kubeconfig.write_certificate(
            self.workdir / "scheduler.kubeconfig",
            name=self.name,
            server=self.server,
            ca=self.pki.ca_cert,
            cert=self.pki.admin_cert,
            key=self.pki.admin_key,
        )
        return [
            str(self.tools.kube_scheduler),
            f"--kubeconfig={config}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=1",
        ]

    def launch_controller_manager(self) -> None:
        super().launch_controller_manager()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        super().stop()

    def restart(self, down: float = 0.0) -> None:
        self.scheduler.stop()
        super().restart(down)
        self.scheduler.start()

    def programs(self) -> list[processes.Process]:
        return [*super().programs(), self.scheduler]
