"""The shipped webhook configuration, registered by URL with a harness control plane.

A harness API server has no Service network, so the configuration of
``config/webhook/manifests.yaml`` is registered with each webhook's ``clientConfig``
turned from the Service into ``https://127.0.0.1:<port>/<the same path>``, with a
certificate the harness issued (or the controller's self-signed one) as ``caBundle``.
Every rule, timeout and matchCondition stays as shipped.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from e2e import pki
from e2e.cluster import Cluster
from e2e.toolchain import REPO

MANIFEST = REPO / "config" / "webhook" / "manifests.yaml"
CONTROLLER_CONDITION = "not-the-controller"


def configuration(
    name: str, port: int, ca_bundle: bytes, *, exempt_controller: bool = True
) -> dict[str, Any]:
    """The shipped configuration, named ``name``, calling 127.0.0.1:``port``.

    ``exempt_controller=False`` drops the condition that keeps the controller's own writes
    away from the webhook, to show that the webhook lets them through by itself too.
    """
    doc: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    doc["metadata"] = {"name": name}
    for hook in doc["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        hook["clientConfig"] = {
            "url": f"https://127.0.0.1:{port}{path}",
            "caBundle": base64.b64encode(ca_bundle).decode(),
        }
        if not exempt_controller:
            hook["matchConditions"] = [
                c for c in hook["matchConditions"] if c["name"] != CONTROLLER_CONDITION
            ]
    return doc


def register(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def unregister(cluster: Cluster, name: str) -> None:
    cluster.kubectl(
        "delete", "validatingwebhookconfiguration", name, "--ignore-not-found", check=False
    )


def serving_files(cluster_pki: pki.Pki, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by the cluster's CA (the caBundle), and its key."""
    return pki.serving_certificate(cluster_pki, name, ["127.0.0.1", "localhost"])


def controller_args(port: int, cert: Path | None = None, key: Path | None = None) -> list[str]:
    """``ipam run`` flags serving the webhook on ``port`` (self-signed without files)."""
    args = [f"--webhook-port={port}", "--bind-address=127.0.0.1"]
    if cert is not None and key is not None:
        args += [f"--webhook-cert-file={cert}", f"--webhook-key-file={key}"]
    return args


def serving(health_port: int) -> bool:
    """Whether the controller's webhook listens: its /healthz says 200 only from then on."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/healthz", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False
