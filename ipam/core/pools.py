"""An IPPool spec read into arithmetic: which addresses it produces, in which order, with what.

Enumeration of one entry (``spec.pools[i]``), exactly as Metal3 IPAM walks it:

================================  =============================================================
fields present                    addresses produced, in order
================================  =============================================================
start + end (+ subnet)            start .. end inclusive; with a subnet the walk also stops at
                                  the first address outside it (start outside: nothing)
start + subnet                    start .. last address of the subnet (broadcast included)
start                             start .. the all-ones address of its family
subnet (+ end, which is ignored)  network + 1 .. last address of the subnet
end only, or nothing              nothing
================================  =============================================================

Entries are tried in list order, and an address produced by several entries belongs to the
first of them: its prefix, gateway and DNS servers are inherited from that entry (prefix: the
entry's when non-zero, else ``spec.prefix``, else 0, never derived from the subnet; gateway:
the entry's, else ``spec.gateway``; DNS servers: the entry's list when non-empty, else
``spec.dnsServers``).

:meth:`Pool.from_spec` never raises. An entry with a problem (see :mod:`ipam.core.entries`:
fields of two IP families, end before start, a bound outside its subnet, a prefix or
gateway that does not fit its family, ...) is *dropped*: it produces no addresses, and the
pool keeps it, with its problems, in :attr:`Pool.dropped` for the controller to report.
:mod:`ipam.core.validation` reports the same problems. A pool whose every entry is dropped
is :attr:`~Pool.invalid`: allocation from it fails with
:class:`~ipam.core.errors.PoolInvalid`, not with "Exhausted IP Pools". Every question a pool
answers is arithmetic on its entries' bounds: nothing here walks a range.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import netaddr

from ipam.core import addresses, entries, errors, ranges

SEQUENTIAL = "sequential"
RANDOM = "random"


@dataclass(frozen=True)
class AddressDetails:
    """What an IPAddress object carries besides its references."""

    address: str
    prefix: int
    gateway: str | None
    dns_servers: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One ``spec.pools[i]`` entry: its bounds (keys, inclusive) and inherited details.

    A dropped entry has ``problems`` and no bounds: it produces nothing.
    """

    index: int
    first: int | None
    last: int | None
    prefix: int
    gateway: str | None
    dns_servers: tuple[str, ...]
    problems: tuple[errors.FieldError, ...] = ()
    """Why the entry produces no addresses (paths like ``spec.pools[1].end``); empty if usable."""

    @property
    def size(self) -> int:
        """How many addresses the entry produces (overlap with other entries included)."""
        if self.first is None or self.last is None:
            return 0
        return self.last - self.first + 1

    @property
    def dropped(self) -> bool:
        """Whether a problem keeps the entry from producing any address."""
        return bool(self.problems)


def entry_bounds(raw: object) -> tuple[int, int] | None:
    """First and last key an entry's walk produces (see the module table), or None.

    The enumeration alone: :meth:`Pool.from_spec` also drops an entry that has a problem.
    """
    return entries.bounds(raw)


def _int_or_zero(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _ip_text(value: object) -> str | None:
    """``value`` unchanged when it is an IP address (upstream copies the user's text)."""
    return value if isinstance(value, str) and addresses.key_of(value) is not None else None


def _ip_texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(text for text in (_ip_text(item) for item in value) if text is not None)


@dataclass(frozen=True)
class Pool:
    """A parsed IPPool spec; build it with :meth:`from_spec`."""

    name_prefix: str
    strategy: str
    entries: tuple[Entry, ...]
    pre_allocations: Mapping[str, str]
    """Claim name -> canonical IP, for every preAllocation whose value parses."""
    invalid_pre_allocations: Mapping[str, object]
    """Claim name -> raw value, for every preAllocation whose value does not parse."""
    prefix: int
    gateway: str | None
    dns_servers: tuple[str, ...]
    _regions: ranges.IntervalSet = field(repr=False, compare=False)
    _segment_starts: tuple[int, ...] = field(repr=False, compare=False)
    _segment_ends: tuple[int, ...] = field(repr=False, compare=False)
    _segment_entries: tuple[int, ...] = field(repr=False, compare=False)
    _reserved: ranges.IntervalSet = field(repr=False, compare=False)
    _reserved_by: Mapping[int, tuple[str, ...]] = field(repr=False, compare=False)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Pool:
        """Read an IPPool ``spec`` as found in the Kubernetes object; never raises."""
        if not isinstance(spec, Mapping):
            spec = {}
        prefix = _int_or_zero(spec.get("prefix"))
        gateway = _ip_text(spec.get("gateway"))
        dns_servers = _ip_texts(spec.get("dnsServers"))
        raw_entries = spec.get("pools")
        read = tuple(
            _entry(index, raw, spec, prefix, gateway, dns_servers)
            for index, raw in enumerate(raw_entries if isinstance(raw_entries, list) else [])
        )
        regions, segments = _segments(read)
        valid, invalid, reserved, reserved_by = _pre_allocations(spec.get("preAllocations"))
        name_prefix = spec.get("namePrefix")
        return cls(
            name_prefix=name_prefix if isinstance(name_prefix, str) else "",
            strategy=RANDOM if spec.get("allocationStrategy") == RANDOM else SEQUENTIAL,
            entries=read,
            pre_allocations=MappingProxyType(valid),
            invalid_pre_allocations=MappingProxyType(invalid),
            prefix=prefix,
            gateway=gateway,
            dns_servers=dns_servers,
            _regions=regions,
            _segment_starts=tuple(start for start, _, _ in segments),
            _segment_ends=tuple(end for _, end, _ in segments),
            _segment_entries=tuple(index for _, _, index in segments),
            _reserved=reserved,
            _reserved_by=MappingProxyType(reserved_by),
        )

    @property
    def dropped(self) -> tuple[Entry, ...]:
        """The entries that produce no addresses because of a problem, in list order."""
        return tuple(entry for entry in self.entries if entry.dropped)

    @property
    def problems(self) -> tuple[errors.FieldError, ...]:
        """Every problem of every dropped entry, in list order."""
        return tuple(problem for entry in self.entries for problem in entry.problems)

    @property
    def invalid(self) -> bool:
        """Whether the pool has entries and every one of them is dropped."""
        return bool(self.entries) and all(entry.dropped for entry in self.entries)

    @property
    def total(self) -> int:
        """How many distinct addresses the entries produce together (may exceed 2**64)."""
        return self._regions.count

    def regions(self) -> Iterator[tuple[int, int]]:
        """The pool's addresses as merged, sorted key intervals."""
        return self._regions.intervals()

    def contains(self, ip: str | netaddr.IPAddress) -> bool:
        """Whether some entry produces ``ip`` (text or netaddr address)."""
        value = _key(ip)
        return value is not None and self._regions.contains(value)

    def contains_key(self, value: int) -> bool:
        """Whether some entry produces the address with this key."""
        return self._regions.contains(value)

    def entry_for_key(self, value: int) -> Entry | None:
        """The first entry, in list order, that produces the address with this key."""
        at = bisect_right(self._segment_starts, value) - 1
        if at < 0 or self._segment_ends[at] < value:
            return None
        return self.entries[self._segment_entries[at]]

    def details_for(self, ip: str | netaddr.IPAddress) -> AddressDetails | None:
        """Prefix, gateway and DNS servers for ``ip``; None when no entry produces it."""
        value = _key(ip)
        return None if value is None else self.details_for_key(value)

    def details_for_key(self, value: int) -> AddressDetails | None:
        """As :meth:`details_for`, for a key."""
        entry = self.entry_for_key(value)
        if entry is None:
            return None
        return AddressDetails(
            address=addresses.text_of(value),
            prefix=entry.prefix,
            gateway=entry.gateway,
            dns_servers=entry.dns_servers,
        )

    def default_details(self, address: str) -> AddressDetails:
        """The spec-level details, for an address no entry produces (kept after a spec edit)."""
        return AddressDetails(
            address=addresses.canonical_text(address) or address,
            prefix=self.prefix,
            gateway=self.gateway,
            dns_servers=self.dns_servers,
        )

    @property
    def reserved(self) -> ranges.IntervalSet:
        """Keys of every pre-allocated address (inside the pool or not). Do not mutate."""
        return self._reserved

    def reserved_for(self, value: int) -> tuple[str, ...]:
        """The claim names a key is pre-allocated to (more than one only in invalid specs)."""
        return self._reserved_by.get(value, ())


def _key(ip: str | netaddr.IPAddress) -> int | None:
    if isinstance(ip, str):
        return addresses.key_of(ip)
    return addresses.key(ip)


def _entry(
    index: int,
    raw: object,
    spec: Mapping[str, Any],
    prefix: int,
    gateway: str | None,
    dns_servers: tuple[str, ...],
) -> Entry:
    problems = tuple(problem.error for problem in entries.problems(index, raw, spec))
    bounds = None if problems else entries.bounds(raw)
    fields: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    return Entry(
        index=index,
        first=None if bounds is None else bounds[0],
        last=None if bounds is None else bounds[1],
        prefix=_int_or_zero(fields.get("prefix")) or prefix,
        gateway=_ip_text(fields.get("gateway")) or gateway,
        dns_servers=_ip_texts(fields.get("dnsServers")) or dns_servers,
        problems=problems,
    )


def _segments(
    read: tuple[Entry, ...],
) -> tuple[ranges.IntervalSet, list[tuple[int, int, int]]]:
    """The union of the entries, and the pieces of it each entry is first to produce."""
    covered = ranges.IntervalSet()
    segments: list[tuple[int, int, int]] = []
    for entry in read:
        if entry.first is None or entry.last is None:
            continue
        position = entry.first
        for start, end in covered.intervals(start_at=entry.first):
            if start > entry.last:
                break
            if start > position:
                segments.append((position, start - 1, entry.index))
            position = max(position, end + 1)
        if position <= entry.last:
            segments.append((position, entry.last, entry.index))
        covered.add(entry.first, entry.last)
    segments.sort()
    return covered, segments


def _pre_allocations(
    raw: object,
) -> tuple[dict[str, str], dict[str, object], ranges.IntervalSet, dict[int, tuple[str, ...]]]:
    valid: dict[str, str] = {}
    invalid: dict[str, object] = {}
    reserved = ranges.IntervalSet()
    reserved_by: dict[int, tuple[str, ...]] = {}
    for claim, value in raw.items() if isinstance(raw, Mapping) else ():
        if not isinstance(claim, str):
            continue
        key = addresses.key_of(value)
        if key is None:
            invalid[claim] = value
            continue
        valid[claim] = addresses.text_of(key)
        reserved.add(key)
        reserved_by[key] = (*reserved_by.get(key, ()), claim)
    return valid, invalid, reserved, reserved_by
