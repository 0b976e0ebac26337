"""Plain HTTPS calls to the control plane as its admin: the driver reads a lot, so no kubectl.

A refused write is not an exception the driver has to catch everywhere: :class:`Refused`
carries the API server's own message, which the comparison records like any other field.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e.conformance.kinds import Kind

FIELD_MANAGER = "capi-ipam-conformance"
TIMEOUT = 60.0


class Refused(RuntimeError):
    """The API server answered a write with an error status; ``message`` is its text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Api:
    """The API server at ``server``, reached with the admin client certificate."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path) -> None:
        self.server = server
        self._ssl = ssl.create_default_context(cafile=str(ca))
        self._ssl.load_cert_chain(str(cert), str(key))

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.server}{path}", data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type or "application/json")
        try:
            with urllib.request.urlopen(request, context=self._ssl, timeout=TIMEOUT) as response:
                text = response.read()
        except urllib.error.HTTPError as err:
            raw = err.read().decode(errors="replace")
            try:
                message = str(json.loads(raw).get("message", raw))
            except ValueError:
                message = raw
            raise Refused(err.code, message) from None
        return json.loads(text) if text else None

    def list(self, kind: Kind, namespace: str) -> list[dict[str, Any]]:
        """Every object of the kind in the namespace; [] when the kind is not served."""
        try:
            found = self._call("GET", kind.path(namespace))
        except Refused as err:
            if err.status == 404:
                return []
            raise
        items: list[dict[str, Any]] = found.get("items", [])
        return items

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call("GET", kind.path(namespace, name))
        except Refused as err:
            if err.status == 404:
                return None
            raise
        return found

    def apply(self, kind: Kind, namespace: str, manifest: dict[str, Any]) -> None:
        """Server-side apply of one object into ``namespace``."""
        body = dict(manifest)
        body["metadata"] = {**manifest.get("metadata", {}), "namespace": namespace}
        name = body["metadata"]["name"]
        query = f"?fieldManager={FIELD_MANAGER}&force=true"
        self._call(
            "PATCH",
            kind.path(namespace, name) + query,
            body,
            "application/apply-patch+yaml",
        )

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
    ) -> None:
        content = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
        }[patch_type]
        path = kind.path(namespace, name) + (f"/{subresource}" if subresource else "")
        self._call("PATCH", f"{path}?fieldManager={FIELD_MANAGER}", patch, content)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        self._call("DELETE", kind.path(namespace, name))

    def create_namespace(self, name: str) -> None:
        self._call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})

    def delete_namespace(self, name: str) -> None:
        try:
            self._call("DELETE", f"/api/v1/namespaces/{name}")
        except Refused as err:
            if err.status != 404:
                raise
