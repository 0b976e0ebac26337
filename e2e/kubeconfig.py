"""Kubeconfig files: an admin one from client certificates, a ServiceAccount one from a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _document(server: str, ca: Path, user: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def write_certificate(
    path: Path, *, name: str, server: str, ca: Path, cert: Path, key: Path
) -> Path:
    user = {"client-certificate": str(cert), "client-key": str(key)}
    path.write_text(yaml.safe_dump(_document(server, ca, user, name)))
    path.chmod(0o600)
    return path


def write_token(
    path: Path, *, name: str, server: str, ca: Path, token: str, namespace: str | None = None
) -> Path:
    doc = _document(server, ca, {"token": token}, name)
    if namespace:
        doc["contexts"][0]["context"]["namespace"] = namespace
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


def read_server(path: Path) -> tuple[str, str | None]:
    """The server URL and CA file of a kubeconfig's current context."""
    doc = yaml.safe_load(path.read_text())
    current = doc.get("current-context")
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == current)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    return cluster["server"], cluster.get("certificate-authority")
