"""Every Kubernetes type, finalizer, label and annotation the controller touches is named here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Resource:
    """One served API type: where it lives and what it is called."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


METAL3_GROUP = "ipam.metal3.io"
CAPI_IPAM_GROUP = "ipam.cluster.x-k8s.io"
CLUSTER_GROUP = "cluster.x-k8s.io"

IPPOOL = Resource(METAL3_GROUP, "v1alpha1", "ippools", "IPPool")
IPCLAIM = Resource(METAL3_GROUP, "v1alpha1", "ipclaims", "IPClaim")
METAL3_IPADDRESS = Resource(METAL3_GROUP, "v1alpha1", "ipaddresses", "IPAddress")
CAPI_IPADDRESSCLAIM = Resource(CAPI_IPAM_GROUP, "v1beta2", "ipaddressclaims", "IPAddressClaim")
CAPI_IPADDRESS = Resource(CAPI_IPAM_GROUP, "v1beta2", "ipaddresses", "IPAddress")
CLUSTER = Resource(CLUSTER_GROUP, "v1beta2", "clusters", "Cluster")
LEASE = Resource("coordination.k8s.io", "v1", "leases", "Lease")

POOL_FINALIZER = "ippool.ipam.metal3.io"

CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
PROVIDER_LABEL = "cluster.x-k8s.io/provider"
PROVIDER_NAME = "ipam-metal3"

PAUSED_ANNOTATION = "cluster.x-k8s.io/paused"
DELETE_FOR_MOVE_ANNOTATION = "clusterctl.cluster.x-k8s.io/delete-for-move"
REQUESTED_IP_ANNOTATION = "ipAddress"

OWN_PREFIX = "capi-ipam.dev"
"""This controller's own annotations (and Kopf's bookkeeping) live under this prefix."""
RECORDED_ADDRESS_ANNOTATION = f"{OWN_PREFIX}/address"
"""On a claim: the address it holds, written with our finalizer. Metadata moves with
``clusterctl move`` and status does not, so a moved claim still knows its address."""
HELD_COUNT_ANNOTATION = f"{OWN_PREFIX}/held"
"""On a pool: how many addresses it holds, so that a pool arriving by a move knows how many
IPAddress objects are still on their way."""
HELD_IN_ANNOTATION = f"{OWN_PREFIX}/held-in"
"""On a pool, written with the held count: the uid of the pool object it was counted in.
``clusterctl move`` creates the pool anew, with another uid: only then are addresses on
their way. A restarted controller in the same cluster lists every IPAddress there is, so a
count left stale by a crash between a release and its recount never makes it wait."""

READY_CONDITION = "Ready"
ALLOCATED_REASON = "Allocated"
POOL_NOT_READY_REASON = "PoolNotReady"
"""The Cluster API contract's reason for a claim whose pool cannot serve it yet."""
DELETING_CONDITION = "Deleting"
"""True on a deleted claim that is still there, with the reason and what it waits for
(the name and meaning Cluster API's v1beta2 objects give it)."""
WAITING_FOR_FINALIZERS_REASON = "WaitingForFinalizers"
CAPI_READY_CONDITION = READY_CONDITION
CAPI_ALLOCATED_REASON = ALLOCATED_REASON

ClaimKind = Literal["metal3", "capi"]


@dataclass(frozen=True)
class Flavour:
    """A claim kind with the address kind it produces and the finalizers of both."""

    kind: ClaimKind
    claim: Resource
    address: Resource
    claim_finalizer: str
    address_finalizer: str


METAL3 = Flavour(
    kind="metal3",
    claim=IPCLAIM,
    address=METAL3_IPADDRESS,
    claim_finalizer="ipclaim.ipam.metal3.io",
    address_finalizer="ipaddress.ipam.metal3.io",
)
CAPI = Flavour(
    kind="capi",
    claim=CAPI_IPADDRESSCLAIM,
    address=CAPI_IPADDRESS,
    claim_finalizer="ipam.metal3.io/ipaddressclaim",
    address_finalizer="ipam.metal3.io/ipaddress",
)
FLAVOURS: dict[ClaimKind, Flavour] = {"metal3": METAL3, "capi": CAPI}
