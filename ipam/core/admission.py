"""Admission rules that need other objects: decided from facts the webhook read, every error at once.

The rules of one object alone (fields that parse, bounds, immutable references) are
:mod:`ipam.core.validation`'s and are applied here as they are. This module adds what one
object cannot say about itself:

======================================  ========================================================
object                                  refused when
======================================  ========================================================
IPPool                                  its namePrefix can give the same IPAddress names as
                                        another pool's of the namespace; a pre-allocated
                                        address is held by another claim, or pre-allocated by
                                        another pool; an edit of its entries leaves an address
                                        it holds outside them
IPClaim                                 ``spec.pool.namespace`` names another namespace
IPClaim, Cluster API IPAddressClaim     its ``ipAddress`` annotation is no address of its pool,
                                        or is held by another claim
======================================  ========================================================

Nothing here blocks what must always pass (:func:`review_needed`): an object being deleted
(finalizers come off), one carrying clusterctl's delete-for-move annotation, and an update
that changes neither the spec nor the ``ipAddress`` annotation (the controller's finalizer,
label and owner patches; clusterctl's own annotations). Deletes are never reviewed: Metal3
IPAM has no deletion rule, and a deletion webhook once broke CAPM3's pivot.

The rules of this module are ratcheted on update: a problem the old object already had,
against the same neighbours, does not block an edit (a pool that gained a twin prefix while
no webhook ran can still get a new gateway). Metal3 IPAM's own rules, from validation, are
not ratcheted, as upstream never did.

A requested address that the pool pre-allocates to another claim (or a request unlike the
claim's own pre-allocation) is let through: a pre-allocation is the pool's to change, and
the claim, told why on its status, is served as soon as the pool is edited.

Upstream's refusal of a ``random`` pool whose entries are larger than an int64 is not kept:
it guarded upstream's random walk, and this allocator draws from any size by arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ipam.core import addresses, errors, ledger, names, pools, validation

DELETE_FOR_MOVE = "clusterctl.cluster.x-k8s.io/delete-for-move"
REQUESTED_IP = "ipAddress"
ANNOTATION_PATH = f"metadata.annotations[{REQUESTED_IP}]"
CLAIM_KINDS: Mapping[ledger.ClaimKind, str] = {
    ledger.METAL3: "IPClaim",
    ledger.CAPI: "IPAddressClaim",
}

_NOT_IN_POOL = "is produced by no entry of IPPool"


@dataclass(frozen=True)
class Held:
    """An IPAddress of either kind, reduced to what admission asks of it."""

    kind: ledger.ClaimKind
    object_name: str
    pool: str
    claim: str
    address: str
    """Canonical text."""

    def by(self) -> str:
        """Who holds it, for a message: ``IPClaim m-0 (IPAddress p-10-0-0-1)``."""
        return f"{CLAIM_KINDS[self.kind]} {self.claim} (IPAddress {self.object_name})"


# -- whether to review at all ---------------------------------------------------------------


def review_needed(
    operation: str, obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None = None
) -> bool:
    """Whether an admission request must be judged; False lets it pass untouched."""
    if operation not in ("CREATE", "UPDATE") or obj is None:
        return False
    meta = _map(obj.get("metadata"))
    if meta.get("deletionTimestamp") or DELETE_FOR_MOVE in _map(meta.get("annotations")):
        return False
    if operation == "UPDATE" and old is not None:
        return obj.get("spec") != old.get("spec") or requested(obj) != requested(old)
    return True


def requested(obj: Mapping[str, Any]) -> str:
    """The ``ipAddress`` annotation's value, or ''."""
    value = _map(_map(obj.get("metadata")).get("annotations")).get(REQUESTED_IP)
    return value if isinstance(value, str) else ""


# -- IPPool ---------------------------------------------------------------------------------


def pool_errors(
    name: str,
    spec: Mapping[str, Any],
    *,
    old_spec: Mapping[str, Any] | None = None,
    others: Mapping[str, Mapping[str, Any]],
    held: Sequence[Held],
) -> list[errors.FieldError]:
    """Every problem of an IPPool: its own fields, then its neighbours.

    ``others`` are the specs of the namespace's other pools by name; ``held`` the
    namespace's IPAddresses of both kinds that are not being deleted.
    """
    found = validation.validate_pool(spec, old_spec=old_spec)
    pool = pools.Pool.from_spec(spec)
    mine = [h for h in held if h.pool == name]
    neighbours = _pool_neighbours(name, pool, others, held)
    if old_spec is None:
        return found + neighbours
    old = pools.Pool.from_spec(old_spec)
    already = set(_pool_neighbours(name, old, others, held))
    found += [e for e in neighbours if e not in already]
    return found + _left_outside(pool, old, mine)


def _pool_neighbours(
    name: str, pool: pools.Pool, others: Mapping[str, Mapping[str, Any]], held: Sequence[Held]
) -> list[errors.FieldError]:
    found: list[errors.FieldError] = []
    other_pools = {other: pools.Pool.from_spec(spec) for other, spec in sorted(others.items())}
    for other, other_pool in other_pools.items():
        if other == name or not pool.name_prefix:
            continue
        if names.prefix_collisions({name: pool, other: other_pool}):
            found.append(
                errors.FieldError("spec.namePrefix", _prefix_clash(pool, other, other_pool))
            )
    for claim, text in sorted(pool.pre_allocations.items()):
        path = f"spec.preAllocations[{claim}]"
        for holding in held:
            if holding.address == text and holding.claim != claim:
                found.append(errors.FieldError(path, held_by(text, holding)))
        for other, other_pool in other_pools.items():
            if other == name:
                continue
            key = addresses.key_of(text)
            for twin in other_pool.reserved_for(key) if key is not None else ():
                found.append(errors.FieldError(path, pre_allocated_to(text, twin, other)))
    return found


def _prefix_clash(pool: pools.Pool, other: str, other_pool: pools.Pool) -> str:
    if pool.name_prefix == other_pool.name_prefix:
        return (
            f"{pool.name_prefix!r} is already the namePrefix of IPPool {other}: both pools "
            "would give their IPAddresses the same names"
        )
    return (
        f"{pool.name_prefix!r} and the namePrefix {other_pool.name_prefix!r} of IPPool {other} "
        "can give two IPAddresses the same name"
    )


def _left_outside(
    pool: pools.Pool, old: pools.Pool, mine: Iterable[Held]
) -> list[errors.FieldError]:
    """Addresses held from this pool that the old entries produced and the new ones do not."""
    return [
        errors.FieldError(
            "spec.pools",
            f"{h.address} is held by {h.by()} but {validation.OUT_OF_BOUNDS}",
        )
        for h in sorted(mine, key=lambda h: (addresses.key_of(h.address) or 0, h.object_name))
        if old.contains(h.address) and not pool.contains(h.address)
    ]


def held_by(text: str, holding: Held) -> str:
    return f"{text} is held by {holding.by()}"


def pre_allocated_to(text: str, claim: str, pool: str) -> str:
    return f"{text} is pre-allocated to claim {claim} by IPPool {pool}"


# -- claims ---------------------------------------------------------------------------------


def claim_errors(
    kind: ledger.ClaimKind,
    obj: Mapping[str, Any],
    *,
    old: Mapping[str, Any] | None = None,
    pool_name: str,
    pool_spec: Mapping[str, Any] | None,
    held: Sequence[Held],
) -> list[errors.FieldError]:
    """Every problem of a claim of either kind.

    ``pool_spec`` is the spec of the pool it names (None when that pool does not exist:
    the claim waits for it, so nothing is said about its annotation); ``held`` the
    IPAddresses of both kinds that hold its ``ipAddress`` annotation's address.
    """
    if kind == ledger.METAL3:
        found = validation.validate_claim(obj, old=old)
    else:  # the Cluster API owns the spec's rules; ours is the annotation
        found = [e for e in validation.validate_claim(obj, old=old) if e.path == ANNOTATION_PATH]
    if pool_name and not names.is_object_name(pool_name):
        path = "spec.pool.name" if kind == ledger.METAL3 else "spec.poolRef.name"
        found.append(
            errors.FieldError(
                path,
                f"{pool_name!r} is not a valid object name (a lowercase RFC 1123 subdomain), "
                "so no IPPool can ever have it",
            )
        )
    neighbours = _claim_neighbours(kind, obj, pool_name, pool_spec, held)
    if old is not None:
        already = set(_claim_neighbours(kind, old, pool_name, pool_spec, held))
        neighbours = [e for e in neighbours if e not in already]
    return found + neighbours


def _claim_neighbours(
    kind: ledger.ClaimKind,
    obj: Mapping[str, Any],
    pool_name: str,
    pool_spec: Mapping[str, Any] | None,
    held: Sequence[Held],
) -> list[errors.FieldError]:
    found: list[errors.FieldError] = []
    meta = _map(obj.get("metadata"))
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    pool_namespace = _map(_map(obj.get("spec")).get("pool")).get("namespace")
    if kind == ledger.METAL3 and pool_namespace and namespace and pool_namespace != namespace:
        found.append(
            errors.FieldError(
                "spec.pool.namespace",
                f"{pool_namespace} is not the claim's namespace {namespace}: a claim is served "
                "only by a pool of its own namespace",
            )
        )
    key = addresses.key_of(requested(obj))
    if key is None or pool_spec is None:
        return found
    text = addresses.text_of(key)
    pool = pools.Pool.from_spec(pool_spec)
    if not pool.contains_key(key):
        found.append(errors.FieldError(ANNOTATION_PATH, f"{text} {_NOT_IN_POOL} {pool_name}"))
    for holding in held:
        if holding.address == text and holding.claim != name:
            found.append(errors.FieldError(ANNOTATION_PATH, held_by(text, holding)))
    return found


# -- the answer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """A refused admission as the API server reports it: one message, and one cause per field.

    The message reads like the API server's own validation errors (``IPPool.ipam.metal3.io
    "p" is invalid: [spec.a: ..., spec.b: ...]``); ``status`` is a Kubernetes ``Status`` of
    reason ``Invalid`` whose ``details.causes`` kubectl prints one per line.
    """

    kind: str
    group: str
    name: str
    problems: tuple[errors.FieldError, ...]

    CODE = 422
    REASON = "Invalid"
    CAUSE = "FieldValueInvalid"

    @property
    def message(self) -> str:
        parts = [f"{p.path}: {p.message}" for p in self.problems]
        listed = parts[0] if len(parts) == 1 else f"[{', '.join(parts)}]"
        return f'{self.kind}.{self.group} "{self.name}" is invalid: {listed}'

    @property
    def status(self) -> dict[str, Any]:
        return {
            "status": "Failure",
            "code": self.CODE,
            "reason": self.REASON,
            "message": self.message,
            "details": {
                "name": self.name,
                "group": self.group,
                "kind": self.kind,
                "causes": [
                    {"reason": self.CAUSE, "message": p.message, "field": p.path}
                    for p in self.problems
                ],
            },
        }


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
