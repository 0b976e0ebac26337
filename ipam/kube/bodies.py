"""Raw API bodies become frozen records here, and records become bodies; nothing else parses JSON.

Every reader is total: a malformed body yields a record with empty fields, never an
exception, because a controller must survive whatever a user applies.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import orjson

from ipam.core import addresses, ledger, pools
from ipam.kube import resources

Body = Mapping[str, Any]
_T = TypeVar("_T", bound=tuple[Any, ...])


def as_map(value: object) -> Mapping[str, Any]:
    # A parsed body is made of plain dicts: asked first, they skip the costlier check of
    # the Mapping protocol, which every field of every watched object goes through.
    if type(value) is dict:
        return value
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strs(value: object) -> tuple[str, ...]:
    if type(value) is list or (isinstance(value, Sequence) and not isinstance(value, str)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def canonical_ip(text: str) -> str:
    """The address as Go prints it (IPv6 lower-case and compressed), or the text unchanged."""
    return addresses.canonical_text(text) or text


def older(version: str, than: str | None) -> bool:
    """Whether resourceVersion ``version`` predates ``than``.

    Resource versions are opaque to clients in principle; in practice they are etcd's
    increasing revisions. When either is not a number the answer is False (not older),
    which only costs a redundant, harmless write.
    """
    if not than or not version.isdigit() or not than.isdigit():
        return False
    return int(version) < int(than)


@dataclass(frozen=True)
class Meta:
    """The metadata every record keeps: identity, versioning and the deletion markers."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    generation: int
    creation: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    finalizers: tuple[str, ...]
    owner_references: tuple[Mapping[str, Any], ...]
    deleting: bool

    @property
    def paused(self) -> bool:
        return resources.PAUSED_ANNOTATION in self.annotations

    @property
    def delete_for_move(self) -> bool:
        return resources.DELETE_FOR_MOVE_ANNOTATION in self.annotations

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def meta_of(body: Body) -> Meta:
    meta = as_map(body.get("metadata"))
    generation = meta.get("generation")
    owners = meta.get("ownerReferences")
    return Meta(
        namespace=_str(meta.get("namespace")),
        name=_str(meta.get("name")),
        uid=_str(meta.get("uid")),
        resource_version=_str(meta.get("resourceVersion")),
        generation=generation if isinstance(generation, int) else 0,
        creation=_str(meta.get("creationTimestamp")),
        labels={k: v for k, v in as_map(meta.get("labels")).items() if isinstance(v, str)},
        annotations={
            k: v for k, v in as_map(meta.get("annotations")).items() if isinstance(v, str)
        },
        finalizers=_strs(meta.get("finalizers")),
        owner_references=tuple(o for o in owners if type(o) is dict or isinstance(o, Mapping))
        if isinstance(owners, list)
        else (),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def name_of(body: Body) -> tuple[str, str]:
    """Namespace and name of a body, without reading the rest of its metadata."""
    meta = as_map(body.get("metadata"))
    return (_str(meta.get("namespace")), _str(meta.get("name")))


def version_of(body: Body) -> tuple[str, str, str, str]:
    """Namespace, name, uid and resourceVersion of a body: which object, in which state."""
    meta = as_map(body.get("metadata"))
    return (
        _str(meta.get("namespace")),
        _str(meta.get("name")),
        _str(meta.get("uid")),
        _str(meta.get("resourceVersion")),
    )


# --- pools -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolRecord:
    """An IPPool as the controller sees it: metadata, parsed spec, and the status it carries."""

    meta: Meta
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    pool: pools.Pool
    body: Body

    @property
    def cluster_name(self) -> str:
        return _str(self.spec.get("clusterName"))

    @property
    def name_prefix(self) -> str:
        return _str(self.spec.get("namePrefix"))

    @property
    def held_count(self) -> int:
        """How many addresses the pool's metadata records as held (0 when it says nothing)."""
        text = self.meta.annotations.get(resources.HELD_COUNT_ANNOTATION, "")
        return int(text) if text.isdigit() else 0

    @property
    def counted_here(self) -> bool:
        """Whether the held count was counted in this very object (not before a move)."""
        counted_in = self.meta.annotations.get(resources.HELD_IN_ANNOTATION)
        return bool(self.meta.uid) and counted_in == self.meta.uid


def pool_record(body: Body) -> PoolRecord:
    spec = as_map(body.get("spec"))
    return PoolRecord(
        meta=meta_of(body),
        spec=spec,
        status=as_map(body.get("status")),
        pool=pools.Pool.from_spec(spec),
        body=body,
    )


# --- claims ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRecord:
    """A Metal3 IPClaim or a CAPI IPAddressClaim, reduced to what allocation needs.

    ``pool_name`` is empty when the claim names no pool, and ``served`` is false for a
    CAPI claim whose poolRef points at another provider's kind: such claims are not ours.
    """

    flavour: resources.Flavour
    meta: Meta
    pool_name: str
    served: bool
    cluster_name: str
    requested: str | None
    address_name: str
    error_message: str
    conditions: tuple[Mapping[str, Any], ...]
    body: Body
    pool_namespace: str = ""
    """The namespace a Metal3 claim's ``spec.pool`` names, if it names one."""

    @property
    def recorded(self) -> str | None:
        """The address this controller recorded on the claim (canonical text), if any."""
        text = self.meta.annotations.get(resources.RECORDED_ADDRESS_ANNOTATION)
        return addresses.canonical_text(text) if text else None

    @property
    def key(self) -> ledger.ClaimKey:
        return ledger.ClaimKey(self.flavour.kind, self.meta.name)

    @property
    def has_finalizer(self) -> bool:
        return self.flavour.claim_finalizer in self.meta.finalizers

    @property
    def foreign_finalizers(self) -> tuple[str, ...]:
        return tuple(f for f in self.meta.finalizers if f != self.flavour.claim_finalizer)

    def condition(self, type_: str) -> Mapping[str, Any] | None:
        for cond in self.conditions:
            if cond.get("type") == type_:
                return cond
        return None


def claim_reported_bound(body: Body) -> bool:
    """Whether a claim body's status names its IPAddress and the claim is not being deleted:
    looking at it again is a re-check, not new work. (A claim that only records an address
    in its metadata, moved or interrupted mid-allocation, still has its status to get.)"""
    if as_map(body.get("metadata")).get("deletionTimestamp"):
        return False
    status = as_map(body.get("status"))
    return bool(as_map(status.get("address")).get("name")) or bool(
        as_map(status.get("addressRef")).get("name")
    )


@dataclass(frozen=True, slots=True)
class Kept:
    """A watched claim body waiting for its reconcile, kept as one compact JSON text.

    A burst queues thousands of claims at once, and a restart lists every claim before
    any is reconciled. Parsed, each body is some thirty small objects; freed once the
    burst is served, they leave the allocator's pages pinned by the longer-lived records
    made in between, so the process keeps its peak size. One exact-size ``bytes`` per
    claim takes a fifth of the room and leaves no such holes. A body orjson cannot write
    (an integer past 64 bits) is kept parsed.
    """

    data: bytes | Body
    reported_bound: bool
    """:func:`claim_reported_bound` of the body, read once when it arrived."""

    @classmethod
    def of(cls, body: Body) -> Kept:
        try:
            # orjson's answer keeps the room it grew into; a copy has exactly its length.
            data: bytes | Body = memoryview(orjson.dumps(body)).tobytes()
        except TypeError:
            data = body
        return cls(data, claim_reported_bound(body))

    def body(self) -> Body:
        """The body as it arrived (a new parse of it each time)."""
        data = self.data
        return cast(Body, orjson.loads(data)) if isinstance(data, bytes) else data


def claim_record(flavour: resources.Flavour, body: Body) -> ClaimRecord:
    meta = meta_of(body)
    spec = as_map(body.get("spec"))
    status = as_map(body.get("status"))
    requested = meta.annotations.get(resources.REQUESTED_IP_ANNOTATION)
    conditions = status.get("conditions")
    if flavour.kind == "metal3":
        pool_ref = as_map(spec.get("pool"))
        served = True
        address_name = _str(as_map(status.get("address")).get("name"))
        cluster_name = meta.labels.get(resources.CLUSTER_NAME_LABEL, "")
        pool_namespace = _str(pool_ref.get("namespace"))
    else:
        pool_namespace = ""
        pool_ref = as_map(spec.get("poolRef"))
        served = (
            pool_ref.get("apiGroup") == resources.METAL3_GROUP
            and pool_ref.get("kind") == resources.IPPOOL.kind
        )
        address_name = _str(as_map(status.get("addressRef")).get("name"))
        cluster_name = _str(spec.get("clusterName")) or meta.labels.get(
            resources.CLUSTER_NAME_LABEL, ""
        )
    return ClaimRecord(
        flavour=flavour,
        meta=meta,
        pool_name=_str(pool_ref.get("name")),
        served=served,
        cluster_name=cluster_name,
        requested=requested if requested else None,
        address_name=address_name,
        error_message=_str(status.get("errorMessage")),
        conditions=tuple(c for c in conditions if isinstance(c, Mapping))
        if isinstance(conditions, list)
        else (),
        body=body,
        pool_namespace=pool_namespace,
    )


# --- addresses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressRecord:
    """An IPAddress of either kind: the address it holds, for which claim, from which pool.

    ``pool_name`` is empty for a CAPI IPAddress of another provider's pool: not ours.
    """

    flavour: resources.Flavour
    meta: Meta
    pool_name: str
    address: str
    claim_name: str

    @property
    def claim(self) -> ledger.ClaimKey:
        return ledger.ClaimKey(self.flavour.kind, self.claim_name)

    @property
    def holding(self) -> ledger.Holding:
        return ledger.Holding(address=self.address, claim=self.claim, object_name=self.meta.name)

    @property
    def has_finalizer(self) -> bool:
        return self.flavour.address_finalizer in self.meta.finalizers


def address_record(flavour: resources.Flavour, body: Body) -> AddressRecord:
    spec = as_map(body.get("spec"))
    if flavour.kind == "metal3":
        pool_name = _str(as_map(spec.get("pool")).get("name"))
        claim_name = _str(as_map(spec.get("claim")).get("name"))
    else:
        pool_ref = as_map(spec.get("poolRef"))
        ours = (
            pool_ref.get("apiGroup") == resources.METAL3_GROUP
            and pool_ref.get("kind") == resources.IPPOOL.kind
        )
        pool_name = _str(pool_ref.get("name")) if ours else ""
        claim_name = _str(as_map(spec.get("claimRef")).get("name"))
    return AddressRecord(
        flavour=flavour,
        meta=meta_of(body),
        pool_name=pool_name,
        address=canonical_ip(_str(spec.get("address"))),
        claim_name=claim_name,
    )


Owner = tuple[str, str, str, bool, bool]
"""An ownerReference, reduced: (kind, name, uid, controller, blockOwnerDeletion)."""


@dataclass(frozen=True, slots=True)
class AddressFact:
    """An IPAddress of either kind, reduced to what the controller keeps in memory for it.

    One is kept for every IPAddress of our pools, so it holds plain strings and tuples,
    never a reference into the body it was read from.
    """

    kind: resources.ClaimKind
    namespace: str
    name: str
    uid: str
    address: str
    pool_name: str
    claim_name: str
    ours: bool
    """It carries our finalizer."""
    deleting: bool
    delete_for_move: bool
    created: str
    owners: tuple[Owner, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    version: str = ""
    """The resourceVersion it was read at: an older reading never replaces a newer one."""
    holding: ledger.Holding = field(init=False, compare=False, repr=False)
    """What the object holds, made once: the ledger keeps this very holding, and the tables
    keyed by the object share its identity."""

    def __post_init__(self) -> None:
        claim = ledger.ClaimKey(self.kind, self.claim_name)
        holding = ledger.Holding(address=self.address, claim=claim, object_name=self.name)
        object.__setattr__(self, "holding", holding)

    @property
    def claim(self) -> ledger.ClaimKey:
        return self.holding.claim

    @property
    def identity(self) -> ledger.ObjectId:
        return self.holding.identity


def address_fact(record: AddressRecord) -> AddressFact:
    """The fact of one IPAddress; its texts are shared with every other fact that has them.

    Each body parsed from JSON brings its own copy of every string, and a fact is kept for
    every IPAddress. Texts that repeat across thousands of them (the namespace, the pool,
    the owners' kinds, the pool's uid, label keys and values, timestamps) are interned and
    stored once; texts of one object alone (its address, its claim's name and uid) are not,
    since interning them would only add an entry to the interpreter's table. The claim's
    name, which the claim's ownerReference repeats, is kept once.
    """
    meta = record.meta
    claim_name = record.claim_name
    return AddressFact(
        kind=record.flavour.kind,
        namespace=_shared(meta.namespace),
        name=meta.name,
        uid=meta.uid,
        address=record.address,
        pool_name=_shared(record.pool_name),
        claim_name=claim_name,
        ours=record.has_finalizer,
        deleting=meta.deleting,
        delete_for_move=meta.delete_for_move,
        created=_shared(meta.creation),
        owners=tuple(_owner(o, claim_name) for o in meta.owner_references),
        labels=_shared_tuple(
            tuple(sorted((_shared(k), _shared(v)) for k, v in meta.labels.items()))
        ),
        version=meta.resource_version,
    )


def _owner(reference: Mapping[str, Any], claim_name: str) -> Owner:
    """An ownerReference, reduced. The claim's is one object's alone; any other (the pool's,
    which every address of the pool carries) is stored once for all facts."""
    kind = _shared(_str(reference.get("kind")))
    name = _str(reference.get("name"))
    controller = reference.get("controller") is True
    block = reference.get("blockOwnerDeletion") is True
    if name and name == claim_name:
        return (kind, claim_name, _str(reference.get("uid")), controller, block)
    return _shared_tuple(
        (kind, _shared(name), _shared(_str(reference.get("uid"))), controller, block)
    )


def _shared(text: str) -> str:
    return sys.intern(text) if type(text) is str else text


SHARED_TUPLES = 4096
"""Distinct owner and label tuples kept for sharing; past that the table starts again."""
_TUPLES: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _shared_tuple(value: _T) -> _T:
    """``value`` itself, or an equal tuple already stored for an earlier fact.

    The table is bounded: a tuple no other fact repeats costs a slot until the table is
    full and starts again, never more."""
    if not value:
        return value
    known = _TUPLES.get(value)
    if known is not None:
        return cast(_T, known)
    if len(_TUPLES) >= SHARED_TUPLES:
        _TUPLES.clear()
    _TUPLES[value] = value
    return value


def owner_reference(
    api_version: str,
    kind: str,
    meta: Meta,
    *,
    controller: bool | None = None,
    block: bool = False,
) -> dict[str, Any]:
    """An ownerReference; without flags (``controller`` None) as Metal3 IPAM writes an
    IPAddress's. ``block`` adds ``blockOwnerDeletion: true``."""
    ref: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.name,
        "uid": meta.uid,
    }
    if controller is not None:
        ref["controller"] = controller
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def address_owners(flavour: resources.Flavour, pool: Meta, claim: Meta) -> list[dict[str, Any]]:
    """The ownerReferences an IPAddress of this kind carries: the pool, then the claim.

    A Cluster API IPAddress's follow the contract (controller: the claim, not the pool;
    both block the owner's deletion); a Metal3 IPAddress's are upstream's, without flags.
    """
    contract = flavour.kind == "capi"
    return [
        owner_reference(
            resources.IPPOOL.api_version,
            resources.IPPOOL.kind,
            pool,
            controller=False if contract else None,
            block=contract,
        ),
        owner_reference(
            flavour.claim.api_version,
            flavour.claim.kind,
            claim,
            controller=True if contract else None,
            block=contract,
        ),
    ]


def address_body(
    pool: PoolRecord,
    claim: ClaimRecord,
    details: pools.AddressDetails,
    object_name: str,
) -> dict[str, Any]:
    """The IPAddress upstream would create for this claim: same name, labels, owners, spec."""
    flavour = claim.flavour
    spec: dict[str, Any]
    if flavour.kind == "metal3":
        spec = {
            "address": details.address,
            "pool": {"name": pool.meta.name, "namespace": pool.meta.namespace},
            "claim": {"name": claim.meta.name, "namespace": claim.meta.namespace},
        }
        if details.prefix:
            spec["prefix"] = details.prefix
        if details.gateway:
            spec["gateway"] = details.gateway
        if details.dns_servers:
            spec["dnsServers"] = list(details.dns_servers)
    else:
        spec = {
            "address": details.address,
            "poolRef": {
                "apiGroup": resources.METAL3_GROUP,
                "kind": resources.IPPOOL.kind,
                "name": pool.meta.name,
            },
            "claimRef": {"name": claim.meta.name},
            "prefix": details.prefix,
        }
        if details.gateway:
            spec["gateway"] = details.gateway
    metadata: dict[str, Any] = {
        "name": object_name,
        "namespace": pool.meta.namespace,
        "finalizers": [flavour.address_finalizer],
        "ownerReferences": address_owners(flavour, pool.meta, claim.meta),
    }
    if claim.meta.labels:
        metadata["labels"] = dict(claim.meta.labels)
    return {
        "apiVersion": flavour.address.api_version,
        "kind": flavour.address.kind,
        "metadata": metadata,
        "spec": spec,
    }


# --- clusters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterRecord:
    """A Cluster API Cluster: only whether it is paused, and what an ownerRef to it needs.

    Paused follows the Cluster API contract: ``spec.paused`` or the
    ``cluster.x-k8s.io/paused`` annotation on the Cluster.
    """

    meta: Meta
    api_version: str
    paused: bool


def cluster_record(body: Body) -> ClusterRecord:
    meta = meta_of(body)
    spec = as_map(body.get("spec"))
    return ClusterRecord(
        meta=meta,
        api_version=_str(body.get("apiVersion")) or resources.CLUSTER.api_version,
        paused=spec.get("paused") is True or meta.paused,
    )
