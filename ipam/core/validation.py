"""Admission rules for the three Metal3 kinds: every field error of an object, all at once.

The rules are Metal3 IPAM's webhook rules plus the ones its allocator needed and never got.
Validation and the allocator agree by construction: the problems of each ``spec.pools``
entry are those :func:`ipam.core.entries.problems` finds, the very ones that make
:class:`ipam.core.pools.Pool` drop the entry, and "inside the pool" is decided by the
pool the allocator uses. So an entry validation accepts is one the pool hands out from,
and an entry it refuses produces no address. The CRD enforces most of these rules at
admission (crds/README.md lists which); they are all here for objects stored before.

Rules this project adds (mixed families, a start or end outside its subnet, an entry that
produces nothing, a prefix or gateway that does not fit the entry's family, a namePrefix
that cannot make object names) are *ratcheted* on update: a problem the old spec already
had does not block an unrelated edit. The upstream rules are never ratcheted, as upstream
never did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ipam.core import addresses, entries, errors, pools

NAME_MAX = 253
"""Longest Kubernetes object name (a DNS subdomain)."""
ADDRESS_NAME_MAX = 39
"""Longest address part of an IPAddress name (a full IPv6 address)."""
NAME_PREFIX_MAX = NAME_MAX - 1 - ADDRESS_NAME_MAX
STRATEGIES = (pools.SEQUENTIAL, pools.RANDOM)

# Labels of a DNS subdomain; the last one may end in "-" because "-<address>" follows it.
_NAME_PREFIX = re.compile(r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)*[a-z0-9][-a-z0-9]*")

CANNOT_BE_MODIFIED = "cannot be modified"
OUT_OF_BOUNDS = "is out of bounds of the pools given"


@dataclass
class _Collector:
    """Field errors in the order found; ``added`` are the ones of this project's own rules."""

    found: list[errors.FieldError] = field(default_factory=list)
    added: set[errors.FieldError] = field(default_factory=set)

    def error(self, path: str, message: str, *, own_rule: bool = False) -> None:
        problem = errors.FieldError(path, message)
        self.found.append(problem)
        if own_rule:
            self.added.add(problem)


# -- IPPool ---------------------------------------------------------------------------------


def validate_pool(
    spec: Mapping[str, Any],
    *,
    old_spec: Mapping[str, Any] | None = None,
    old_status: Mapping[str, Any] | None = None,
) -> list[errors.FieldError]:
    """Every problem of an IPPool ``spec``; pass the old spec and status on update."""
    found = _pool_errors(spec)
    if old_spec is not None:
        already = _pool_errors(old_spec).added
        found.found = [e for e in found.found if not (e in found.added and e in already)]
        _pool_update(found, _mapping(spec), _mapping(old_spec))
    if old_status is not None:
        _still_inside(found, spec, _mapping(old_status))
    return found.found


def _pool_errors(spec: object) -> _Collector:
    found = _Collector()
    if not isinstance(spec, Mapping):
        found.error("spec", "must be an object")
        return found
    _name_prefix(found, spec.get("namePrefix"))
    strategy = spec.get("allocationStrategy")
    if strategy not in (None, "", *STRATEGIES):
        found.error("spec.allocationStrategy", f"must be one of {', '.join(STRATEGIES)}")
    _prefix(found, "spec.prefix", spec.get("prefix"))
    _ip(found, "spec.gateway", spec.get("gateway"))
    _ips(found, "spec.dnsServers", spec.get("dnsServers"))
    _entries(found, spec)
    _pre_allocations(found, spec)
    return found


def _name_prefix(found: _Collector, value: object) -> None:
    path = "spec.namePrefix"
    if not isinstance(value, str) or not value:
        found.error(path, "is required")
    elif not _NAME_PREFIX.fullmatch(value):
        found.error(
            path,
            f"{value!r} cannot start valid object names: use lower-case letters, digits, "
            "'-' and '.', starting with a letter or digit",
            own_rule=True,
        )
    elif len(value) > NAME_PREFIX_MAX:
        found.error(
            path,
            f"must be at most {NAME_PREFIX_MAX} characters so that object names fit in {NAME_MAX}",
            own_rule=True,
        )


def _entries(found: _Collector, spec: Mapping[str, Any]) -> None:
    raw = spec.get("pools")
    if raw is None:
        return
    if not isinstance(raw, list):
        found.error("spec.pools", "must be a list")
        return
    for index, entry in enumerate(raw):
        for problem in entries.problems(index, entry, spec):
            error = problem.error
            found.error(error.path, error.message, own_rule=not problem.upstream)


def _pre_allocations(found: _Collector, spec: Mapping[str, Any]) -> None:
    raw = spec.get("preAllocations")
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        found.error("spec.preAllocations", "must map claim names to IP addresses")
        return
    pool = pools.Pool.from_spec(spec)
    owners: dict[int, str] = {}
    for claim, text in raw.items():
        path = f"spec.preAllocations[{claim}]"
        value = _ip(found, path, text)
        if value is None:
            continue
        if value in owners:
            found.error(path, f"{text} is already pre-allocated to claim {owners[value]}")
            continue
        owners[value] = str(claim)
        if not pool.contains_key(value):
            found.error(path, f"{text} {OUT_OF_BOUNDS}")


def _pool_update(found: _Collector, spec: Mapping[str, Any], old: Mapping[str, Any]) -> None:
    if spec.get("namePrefix") != old.get("namePrefix"):
        found.error("spec.namePrefix", CANNOT_BE_MODIFIED)
    strategy = spec.get("allocationStrategy") or pools.SEQUENTIAL
    if strategy != (old.get("allocationStrategy") or pools.SEQUENTIAL):
        found.error("spec.allocationStrategy", f"{CANNOT_BE_MODIFIED} after creation")


def _still_inside(found: _Collector, spec: object, old_status: Mapping[str, Any]) -> None:
    """Addresses in use (old ``status.indexes``) must stay inside the new entries."""
    in_use = old_status.get("indexes")
    if not isinstance(in_use, Mapping) or not isinstance(spec, Mapping):
        return
    pool = pools.Pool.from_spec(spec)
    for claim, text in in_use.items():
        if not isinstance(text, str) or pool.contains(text):
            continue
        found.error("spec.pools", f"{text} of claim {claim} is in use but {OUT_OF_BOUNDS}")


# -- IPClaim and IPAddress -------------------------------------------------------------------


def validate_claim(
    obj: Mapping[str, Any], *, old: Mapping[str, Any] | None = None
) -> list[errors.FieldError]:
    """Every problem of an IPClaim object; pass the old object on update."""
    found = _Collector()
    spec = _mapping(_mapping(obj).get("spec"))
    pool_ref = _mapping(spec.get("pool"))
    if not pool_ref.get("name"):
        found.error("spec.pool.name", "cannot be empty")
    _annotation(found, obj)
    if old is not None:
        old_ref = _mapping(_mapping(_mapping(old).get("spec")).get("pool"))
        _unchanged(found, "spec.pool", pool_ref, old_ref, ("name", "namespace", "kind"))
    return found.found


def validate_address(
    obj: Mapping[str, Any], *, old: Mapping[str, Any] | None = None
) -> list[errors.FieldError]:
    """Every problem of a Metal3 IPAddress object; pass the old object on update."""
    found = _Collector()
    spec = _mapping(_mapping(obj).get("spec"))
    for path, value in (
        ("spec.pool.name", _mapping(spec.get("pool")).get("name")),
        ("spec.claim.name", _mapping(spec.get("claim")).get("name")),
        ("spec.address", spec.get("address")),
    ):
        if not value:
            found.error(path, "cannot be empty")
    if spec.get("address"):
        _ip(found, "spec.address", spec.get("address"))
    _prefix(found, "spec.prefix", spec.get("prefix"))
    _ip(found, "spec.gateway", spec.get("gateway"))
    _ips(found, "spec.dnsServers", spec.get("dnsServers"))
    _annotation(found, obj)
    if old is not None:
        old_spec = _mapping(_mapping(old).get("spec"))
        if spec.get("address") != old_spec.get("address"):
            found.error("spec.address", CANNOT_BE_MODIFIED)
        for ref in ("pool", "claim"):
            _unchanged(
                found,
                f"spec.{ref}",
                _mapping(spec.get(ref)),
                _mapping(old_spec.get(ref)),
                ("name", "namespace", "kind"),
            )
    return found.found


def _annotation(found: _Collector, obj: object) -> None:
    annotations = _mapping(_mapping(_mapping(obj).get("metadata")).get("annotations"))
    value = annotations.get("ipAddress")
    if value:
        _ip(found, "metadata.annotations[ipAddress]", value)


def _unchanged(
    found: _Collector,
    path: str,
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    keys: tuple[str, ...],
) -> None:
    for key in keys:
        if (new.get(key) or "") != (old.get(key) or ""):
            found.error(f"{path}.{key}", CANNOT_BE_MODIFIED)


# -- shared field checks ---------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ip(found: _Collector, path: str, value: object) -> int | None:
    """The key of an optional IP field; an error when it is set and does not parse."""
    if value is None or value == "":
        return None
    key = addresses.key_of(value)
    if key is None:
        found.error(path, f"{value!r} is not a valid IP address")
    return key


def _ips(found: _Collector, path: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        found.error(path, "must be a list of IP addresses")
        return
    for index, item in enumerate(value):
        if addresses.key_of(item) is None:
            found.error(f"{path}[{index}]", f"{item!r} is not a valid IP address")


def _prefix(found: _Collector, path: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        found.error(path, "must be an integer")
    elif not 0 <= value <= 128:
        found.error(path, f"{value} is not between 0 and 128", own_rule=value < 0)
