"""Cluster API core in a management cluster: its CRDs, its manager, its webhooks by URL.

A harness control plane runs the Cluster API core manager built from the pinned module
as a process beside the API server, as ``clusterctl init`` would run it as a Deployment.
Its webhooks (validating, mutating, and the conversion of every multi-version CRD) are
registered with ``url: https://127.0.0.1:<port>/...`` and the harness CA as ``caBundle``:
no Service, no cert-manager. The webhook server has no address flag in v1.14.2, so its
port is chosen free on loopback but the server listens on every interface; the health
and diagnostics servers listen on loopback only.

In a cluster the harness does not run (kind with ``clusterctl init``), :func:`check`
finds out whether Cluster API is installed and answering, and says what to run if not.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from e2e import processes
from e2e.cluster import Cluster
from e2e.toolchain import Tools

PROVIDER_LABEL = "cluster.x-k8s.io/provider"
CLUSTERCTL_LABEL = "clusterctl.cluster.x-k8s.io"
PROVIDER = "cluster-api"
CONFIGURATION_PREFIX = "capi-"
"""clusterctl init names the webhook configurations ``capi-<name in the manifest>``."""

REFUSAL = "one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set"
"""What Cluster API's Cluster webhook answers for a Cluster that names nothing."""


class ClusterAPIError(RuntimeError):
    """Cluster API is missing, not answering, or did not start; the message says what to do."""


def _config_dir(tools: Tools) -> Path:
    return tools.cluster_api_source / "core" / "config"


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass(frozen=True)
class Endpoint:
    """Where the API server reaches the manager's webhook server, and the CA it trusts."""

    port: int
    ca_cert: Path

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_cert.read_bytes()).decode()

    def client_config(self, path: str) -> dict[str, str]:
        return {"url": f"https://127.0.0.1:{self.port}{path}", "caBundle": self.ca_bundle}


def crds(tools: Tools, endpoint: Endpoint | None) -> list[dict[str, Any]]:
    """Every core CRD of the pinned module, labelled as ``clusterctl init`` labels them.

    With an endpoint, each CRD converts between its versions through the manager's
    ``/convert`` (all core CRDs serve more than one version); without one, only the
    storage version can be read faithfully.
    """
    bases = _config_dir(tools) / "crd" / "bases"
    docs = [doc for path in sorted(bases.glob("*.yaml")) for doc in _load(path)]
    if not docs:
        raise ClusterAPIError(f"no Cluster API CRDs in {bases}")
    for doc in docs:
        labels = doc.setdefault("metadata", {}).setdefault("labels", {})
        labels.update({CLUSTERCTL_LABEL: "", PROVIDER_LABEL: PROVIDER})
        if endpoint is not None and len(doc["spec"]["versions"]) > 1:
            doc["spec"]["conversion"] = {
                "strategy": "Webhook",
                "webhook": {
                    "conversionReviewVersions": ["v1"],
                    "clientConfig": endpoint.client_config("/convert"),
                },
            }
    return docs


def webhook_configurations(tools: Tools, endpoint: Endpoint) -> list[dict[str, Any]]:
    """The module's validating and mutating webhook configurations, pointed at ``endpoint``."""
    docs = copy.deepcopy(_load(_config_dir(tools) / "webhook" / "manifests.yaml"))
    for doc in docs:
        meta = doc["metadata"]
        meta["name"] = CONFIGURATION_PREFIX + meta["name"]
        meta.setdefault("labels", {})[PROVIDER_LABEL] = PROVIDER
        for webhook in doc["webhooks"]:
            path = webhook["clientConfig"]["service"]["path"]
            webhook["clientConfig"] = endpoint.client_config(path)
    return docs


class Manager:
    """The Cluster API core manager as a process: start, wait until ready, stop."""

    def __init__(
        self,
        tools: Tools,
        *,
        kubeconfig_path: Path,
        cert_dir: Path,
        ports: dict[str, int],
        log_path: Path,
    ) -> None:
        self.ports = ports
        argv = [
            str(tools.capi_manager),
            f"--kubeconfig={kubeconfig_path}",
            f"--webhook-port={ports['capi_webhook']}",
            f"--webhook-cert-dir={cert_dir}",
            f"--health-addr=127.0.0.1:{ports['capi_health']}",
            f"--diagnostics-address=127.0.0.1:{ports['capi_diagnostics']}",
            "--insecure-diagnostics",
            "--leader-elect=false",
            "--v=2",
        ]
        self.process = processes.Process("capi-manager", argv, log_path)

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def ready(self) -> bool:
        """``/readyz`` answers 200: the webhook server is up and serving."""
        url = f"http://127.0.0.1:{self.ports['capi_health']}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running:
                raise ClusterAPIError(
                    f"the Cluster API manager exited with {self.process.returncode}:\n"
                    f"{self.process.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.2)
        raise ClusterAPIError(
            f"the Cluster API manager was not ready after {timeout:.0f}s:\n"
            f"{self.process.log_tail()}"
        )


@dataclass(frozen=True)
class Installation:
    """A Cluster API found in a cluster: its core provider version, when the inventory says."""

    version: str | None


def _probe_cluster() -> str:
    return json.dumps(
        {
            "apiVersion": "cluster.x-k8s.io/v1beta2",
            "kind": "Cluster",
            "metadata": {"name": "capi-ipam-probe", "namespace": "default"},
            "spec": {"paused": False},
        }
    )


def check(cluster: Cluster) -> Installation:
    """Cluster API's core provider is installed in ``cluster`` and its webhooks answer.

    Installed means: the Cluster CRD carries the core provider's label (as ``clusterctl
    init`` leaves it), and a server-side dry run of a Cluster that names nothing is
    refused by Cluster API's own webhook, which proves that the manager runs.
    """
    init = f"clusterctl init --kubeconfig {cluster.kubeconfig_path}"
    where = f"{cluster.name} ({cluster.kubeconfig_path})"
    crd = cluster.get_json("crd", "clusters.cluster.x-k8s.io")
    if crd is None:
        raise ClusterAPIError(
            f"Cluster API is not installed in {where}: there is no Cluster CRD. "
            f"Install its core provider first:\n  {init}"
        )
    labels = crd["metadata"].get("labels") or {}
    if labels.get(PROVIDER_LABEL) != PROVIDER:
        raise ClusterAPIError(
            f"{where} has a Cluster CRD that clusterctl did not install (no label "
            f"{PROVIDER_LABEL}={PROVIDER}). Install Cluster API with clusterctl:\n  {init}"
        )
    proc = cluster.kubectl(
        "create", "--dry-run=server", "-o", "name", "-f", "-", input=_probe_cluster(), check=False
    )
    if proc.returncode == 0:
        raise ClusterAPIError(
            f"Cluster API's webhooks are not registered in {where}: a Cluster that names "
            f"no infrastructure was accepted. Install its core provider:\n  {init}"
        )
    if "no matches for kind" in proc.stderr:
        raise ClusterAPIError(
            f"Cluster API in {where} does not serve cluster.x-k8s.io/v1beta2, which the "
            f"harness's clusterctl (v1beta2, Cluster API >= v1.11) needs. Upgrade it:\n"
            f"  clusterctl upgrade apply --kubeconfig {cluster.kubeconfig_path} --contract v1beta2"
        )
    if "failed calling webhook" in proc.stderr:
        raise ClusterAPIError(
            f"Cluster API's webhooks are registered in {where} but do not answer; is its "
            f"manager running (kubectl -n capi-system get deployments)? The API server said:\n"
            f"  {proc.stderr.strip()}"
        )
    if REFUSAL not in proc.stderr:
        raise ClusterAPIError(
            f"Cluster API in {where} refused a Cluster that names no provider, but not as "
            f"its v1beta2 webhook does. The API server said:\n  {proc.stderr.strip()}"
        )
    provider = cluster.get_json(
        "providers.clusterctl.cluster.x-k8s.io", PROVIDER, "-n", "capi-system"
    )
    return Installation(version=provider.get("version") if provider else None)
