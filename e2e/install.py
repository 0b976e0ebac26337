"""What every harness cluster gets: this project's CRDs, Cluster API's, clusterctl's inventory.

Cluster API's CRDs and the inventory CRD come from the pinned cluster-api module (the
same version as the clusterctl binary). Every CRD is labelled the way ``clusterctl init``
labels what it installs, so ``clusterctl move`` discovers the types, and the inventory
holds a Provider entry for the core provider and for this one, so move accepts the
clusters as management clusters. The stand-in providers of ``e2e.providers`` come too.
In a cluster where ``clusterctl init`` already installed Cluster API, its CRDs and its
inventory entry are left as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml

from e2e import capi, providers
from e2e.capi import CLUSTERCTL_LABEL, PROVIDER_LABEL
from e2e.toolchain import REPO, Tools

OUR_CRDS = REPO / "crds"
IPAM_PROVIDER = {"name": "ipam-metal3", "namespace": "metal3-ipam-system", "version": "v0.1.0"}


class _Applies(Protocol):
    name: str

    def apply(self, manifest: str, *, server_side: bool = True) -> None: ...

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> Any: ...


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _labelled(docs: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return docs


def our_crds() -> list[dict[str, Any]]:
    paths = sorted(OUR_CRDS.glob("*.yaml"))
    if not paths:
        raise FileNotFoundError(f"no CRD manifests in {OUR_CRDS}")
    docs = [d for p in paths for d in _load(p) if d.get("kind") == "CustomResourceDefinition"]
    return _labelled(docs, {CLUSTERCTL_LABEL: "", PROVIDER_LABEL: "ipam-metal3"})


def cluster_api_crds(tools: Tools, conversion: capi.Endpoint | None) -> list[dict[str, Any]]:
    """Every Cluster API core CRD (converting through ``conversion``) and the inventory CRD."""
    docs = capi.crds(tools, conversion)
    inventory = tools.cluster_api_source / "cmd" / "clusterctl" / "config" / "crd" / "bases"
    inv = _load(inventory / "clusterctl.cluster.x-k8s.io_providers.yaml")
    return docs + _labelled(inv, {"clusterctl.cluster.x-k8s.io/core": "inventory"})


def inventory(tools: Tools, *, core: bool = True) -> list[dict[str, Any]]:
    """Namespaces and Provider entries for Cluster API's core provider and this provider."""

    def provider(
        name: str, namespace: str, kind: str, provider_name: str, version: str
    ) -> dict[str, Any]:
        return {
            "apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3",
            "kind": "Provider",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {CLUSTERCTL_LABEL: "", PROVIDER_LABEL: name},
            },
            "type": kind,
            "providerName": provider_name,
            "version": version,
        }

    def namespace(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}

    ours = [
        namespace(IPAM_PROVIDER["namespace"]),
        provider(
            IPAM_PROVIDER["name"],
            IPAM_PROVIDER["namespace"],
            "IPAMProvider",
            "metal3",
            IPAM_PROVIDER["version"],
        ),
    ]
    if not core:
        return ours
    return [
        namespace("capi-system"),
        provider(
            "cluster-api", "capi-system", "CoreProvider", "cluster-api", tools.cluster_api_version
        ),
        *ours,
    ]


def _as_list(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs})


def install_all(
    cluster: _Applies,
    tools: Tools,
    *,
    cluster_api: bool = True,
    conversion: capi.Endpoint | None = None,
) -> None:
    """Install the CRDs and the inventory; ``cluster_api=False`` leaves Cluster API's own alone.

    ``conversion`` is where the Cluster API manager of this cluster serves ``/convert``.
    """
    crds = our_crds() + providers.crds()
    if cluster_api:
        crds += cluster_api_crds(tools, conversion)
    cluster.apply(_as_list(crds))
    names = [f"crd/{d['metadata']['name']}" for d in crds]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, timeout=90)
    cluster.apply(_as_list(inventory(tools, core=cluster_api)))
