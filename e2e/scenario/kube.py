"""Object I/O for scenarios goes through :class:`ObjectClient`; the real one is kubectl ``-o json``.

The protocol is the seam: steps, conditions, snapshots and invariants only call these
methods, so the runner's own unit tests can swap in an in-memory client while every
scenario runs on a real API server.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any, Protocol

from e2e.scenario.manifests import Kind, ObjectRef

APPLY_TIMEOUT = 300.0
FIELD_MANAGER = "scenario"


class KubectlFailed(RuntimeError):
    """kubectl exited non-zero; the message holds the command and its stderr.

    ``stderr`` alone is what the API server (through kubectl) answered.
    """

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


def refusal(stderr: str) -> list[str]:
    """What the API server said when it refused a write, as kubectl prints it.

    A refusal of reason Invalid gives one entry per field error (kubectl prints
    ``The IPPool "p" is invalid: <one error>`` or one ``* <error>`` line each); any other
    refusal is its whole message without kubectl's ``Error from server (Reason): ``.
    """
    text = stderr.strip()
    _, found, rest = text.partition(" is invalid: ")
    if found:
        lines = [line.strip().removeprefix("* ") for line in rest.strip().splitlines()]
        return [line for line in lines if line]
    head, found, rest = text.partition("): ")
    if found and head.startswith("Error from server ("):
        return [rest]
    return [text]


class Kubectl(Protocol):
    """What the harness clusters offer: ``ControlPlane`` and ``ExternalCluster``."""

    name: str

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]: ...


class ObjectClient(Protocol):
    """Reads and writes of Kubernetes objects, as plain JSON-like dicts."""

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        missing_kind_ok: bool = False,
    ) -> list[dict[str, Any]]:
        """Objects of a kind; ``missing_kind_ok`` turns "no such resource type" into []."""

    def apply(self, objects: Sequence[dict[str, Any]]) -> None:
        """Server-side apply of the objects."""

    def patch(
        self, ref: ObjectRef, patch: Any, *, patch_type: str, subresource: str | None = None
    ) -> None:
        """A ``merge`` or ``json`` patch of one object (or of its status)."""

    def delete(self, refs: Sequence[ObjectRef]) -> None:
        """Delete the objects without waiting for finalizers; missing objects are an error."""


class KubectlClient:
    """:class:`ObjectClient` over a harness cluster's ``kubectl``."""

    def __init__(self, cluster: Kubectl) -> None:
        self.cluster = cluster

    def _run(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = self.cluster.kubectl(*args, input=input, check=False, timeout=timeout)
        if proc.returncode != 0:
            raise KubectlFailed(
                f"{self.cluster.name}: kubectl {' '.join(args)} exited {proc.returncode}: "
                f"{proc.stderr.strip()}",
                proc.stderr,
            )
        return proc

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        args = ["get", ref.kind.resource, ref.name, "-o", "json", "--ignore-not-found"]
        if ref.namespace:
            args += ["-n", ref.namespace]
        out = self._run(*args).stdout.strip()
        return json.loads(out) if out else None

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        missing_kind_ok: bool = False,
    ) -> list[dict[str, Any]]:
        args = ["get", kind.resource, "-o", "json"]
        args += ["-n", namespace] if namespace else ["--all-namespaces"]
        if label_selector:
            args += ["-l", label_selector]
        if field_selector:
            args += ["--field-selector", field_selector]
        try:
            out = self._run(*args).stdout
        except KubectlFailed as err:
            if missing_kind_ok and "doesn't have a resource type" in str(err):
                return []
            raise
        items: list[dict[str, Any]] = json.loads(out).get("items") or []
        return items

    def apply(self, objects: Sequence[dict[str, Any]]) -> None:
        if not objects:
            return
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
        self._run(
            "apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
            "-o", "name", "-f", "-",
            input=document, timeout=APPLY_TIMEOUT,
        )  # fmt: skip

    def patch(
        self, ref: ObjectRef, patch: Any, *, patch_type: str, subresource: str | None = None
    ) -> None:
        args = ["patch", ref.kind.resource, ref.name, f"--type={patch_type}"]
        args += ["-p", json.dumps(patch)]
        if ref.namespace:
            args += ["-n", ref.namespace]
        if subresource:
            args += [f"--subresource={subresource}"]
        self._run(*args)

    def delete(self, refs: Sequence[ObjectRef]) -> None:
        if not refs:
            return
        document = json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": [r.as_manifest() for r in refs]}
        )
        self._run("delete", "--wait=false", "-f", "-", input=document, timeout=APPLY_TIMEOUT)
