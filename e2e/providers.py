"""Stand-in infrastructure and control plane providers, so Cluster API accepts and provisions Clusters.

Cluster API's webhook refuses a Cluster that names neither an infrastructure nor a
control plane object, and its Cluster controller reports a Cluster provisioned only when
those objects say so through the v1beta2 contract. No real provider runs here (there is
no machine to create), so the harness installs two small CRDs that play the providers'
part: a ``HarnessCluster`` (``status.initialization.provisioned``) and a
``HarnessControlPlane`` (``status.initialization.controlPlaneInitialized``), each carrying
the ``cluster.x-k8s.io/v1beta2`` contract label and clusterctl's labels, so ``clusterctl
move`` discovers them and moves them with their Cluster.

Their status is written once, with the object, and means "provisioned": the CRDs have
no status subresource, so the status travels in the object itself and ``clusterctl move``
carries it to the target, where the real Cluster controller reads it again, exactly as it
would read a real provider's status after a pivot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GROUP = "harness.capi-ipam.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
INFRASTRUCTURE_KIND = "HarnessCluster"
CONTROL_PLANE_KIND = "HarnessControlPlane"
CLUSTER_API_VERSION = "cluster.x-k8s.io/v1beta2"


def _crd(kind: str, provider: str) -> dict[str, Any]:
    plural = kind.lower() + "s"
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {
                # The contract label: version v1alpha1 of this kind implements contract v1beta2.
                "cluster.x-k8s.io/v1beta2": VERSION,
                "cluster.x-k8s.io/provider": provider,
                "clusterctl.cluster.x-k8s.io": "",
            },
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": open_object, "status": open_object},
                        }
                    },
                }
            ],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The two stand-in provider CRDs."""
    return [
        _crd(INFRASTRUCTURE_KIND, "infrastructure-harness"),
        _crd(CONTROL_PLANE_KIND, "control-plane-harness"),
    ]


def _stand_in(kind: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {},
        "status": {"initialization": status},
    }


def workload_cluster(
    name: str, *, paused: bool | None = None, labels: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """A Cluster named ``name`` that Cluster API accepts and provisions, with its two stand-ins.

    The stand-ins come first, so the Cluster controller finds them on its first reconcile.
    """
    ref = {"apiGroup": GROUP, "name": name}
    spec: dict[str, Any] = {
        "infrastructureRef": {**ref, "kind": INFRASTRUCTURE_KIND},
        "controlPlaneRef": {**ref, "kind": CONTROL_PLANE_KIND},
    }
    if paused is not None:
        spec["paused"] = paused
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(labels)
    return [
        _stand_in(INFRASTRUCTURE_KIND, name, {"provisioned": True}),
        _stand_in(CONTROL_PLANE_KIND, name, {"controlPlaneInitialized": True}),
        {"apiVersion": CLUSTER_API_VERSION, "kind": "Cluster", "metadata": metadata, "spec": spec},
    ]
