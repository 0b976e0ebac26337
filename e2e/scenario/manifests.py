"""Objects as a step names them (inline, a list, ``file:``, ``workloadCluster:``), namespaced.

``{workloadCluster: NAME}`` (optionally with ``paused``, ``labels`` and ``namespace``) stands for a
Cluster API Cluster that Cluster API's webhooks accept and its Cluster controller
provisions: the Cluster and its stand-in infrastructure and control plane objects
(``e2e.providers``). In ``delete`` it names the Cluster alone; Cluster API deletes the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from e2e import providers
from e2e.scenario import templating

SHORTHAND = "workloadCluster"

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
)
"""Kinds that never get a namespace (the harness's CRDs are all namespaced)."""


@dataclass(frozen=True)
class Kind:
    """A kind kubectl can name without ambiguity: ``ipaddress.v1beta2.ipam.cluster.x-k8s.io``."""

    api_version: str
    kind: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource(self) -> str:
        """The kubectl resource argument; core kinds go by their kind alone."""
        if not self.group:
            return self.kind.lower()
        version = self.api_version.rpartition("/")[2]
        return f"{self.kind.lower()}.{version}.{self.group}"

    @property
    def namespaced(self) -> bool:
        return self.kind not in CLUSTER_SCOPED

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


@dataclass(frozen=True)
class ObjectRef:
    """One object: its kind, name and (for namespaced kinds) namespace."""

    kind: Kind
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: Mapping[str, Any], default_namespace: str | None = None) -> ObjectRef:
        kind = Kind(str(obj["apiVersion"]), str(obj["kind"]))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or (default_namespace if kind.namespaced else None)
        return cls(kind, str(meta["name"]), namespace)

    def as_manifest(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name}
        if self.namespace:
            meta["namespace"] = self.namespace
        return {"apiVersion": self.kind.api_version, "kind": self.kind.kind, "metadata": meta}

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def with_namespace(obj: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of ``obj`` with ``metadata.namespace`` set when it has none and needs one."""
    result = copy.deepcopy(dict(obj))
    if Kind(str(result["apiVersion"]), str(result["kind"])).namespaced:
        meta = result.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
    return result


def load_file(path: Path) -> list[dict[str, Any]]:
    """The objects of a YAML file: every document, with ``kind: List`` flattened."""
    objects: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(path.read_text()):
        if not document:
            continue
        if not isinstance(document, dict):
            raise ValueError(f"{path}: a document is not a mapping")
        if document.get("kind") == "List" or document.get("kind", "").endswith("List"):
            objects.extend(document.get("items") or [])
        else:
            objects.append(document)
    return objects


def entries(body: Any) -> list[Any]:
    """The entries of an apply/delete body: a list as is, anything else as one entry."""
    return list(body) if isinstance(body, list) else [body]


def expand(entry: Mapping[str, Any], *, deleting: bool = False) -> list[dict[str, Any]]:
    """The objects a ``workloadCluster`` entry stands for (only the Cluster when deleting)."""
    objects = providers.workload_cluster(
        str(entry[SHORTHAND]), paused=entry.get("paused"), labels=entry.get("labels")
    )
    if entry.get("namespace"):
        for obj in objects:
            obj["metadata"]["namespace"] = str(entry["namespace"])
    return objects[-1:] if deleting else objects


def resolve(
    body: Any, *, repo_root: Path, variables: Mapping[str, object], deleting: bool = False
) -> list[dict[str, Any]]:
    """Every object ``body`` stands for, templated and namespaced."""
    namespace = str(variables["namespace"])
    objects: list[dict[str, Any]] = []
    for entry in entries(body):
        if "file" in entry:
            found = [
                templating.render(obj, variables) for obj in load_file(repo_root / entry["file"])
            ]
        elif SHORTHAND in entry:
            found = expand(templating.render(entry, variables), deleting=deleting)
        else:
            found = [templating.render(entry, variables)]
        objects.extend(with_namespace(obj, namespace) for obj in found)
    return objects
