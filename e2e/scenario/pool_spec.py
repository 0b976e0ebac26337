"""The checker's own reading of an IPPool spec, with the standard library only.

The invariants must not ask the controller's code which addresses a pool holds (a bug
there would then hide itself), so this module reads ``spec.pools`` again, independently,
by the enumeration rules of Metal3 IPAM:

==================================  ========================================================
entry fields                        addresses
==================================  ========================================================
start + end (+ subnet)              start .. end, inclusive; with a subnet, only while inside
                                    it (a start outside the subnet gives nothing)
start + subnet                      start .. the last address of the subnet (broadcast too)
start only                          start .. the all-ones address of its family
subnet only (an end is ignored)     network + 1 .. the last address of the subnet
end only, or nothing                nothing
==================================  ========================================================

An entry whose addresses do not parse, or mix IPv4 with IPv6, holds nothing. A range is
its family and its first and last address as integers, never walked, so an IPv6 /64 costs
what a /30 costs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, NamedTuple

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Range(NamedTuple):
    """The addresses ``first`` .. ``last`` (inclusive) of IP version ``version``."""

    version: int
    first: int
    last: int


def parse_address(text: object) -> Address | None:
    """The address a text names, or None; ``fd00::A`` and ``fd00:0::a`` are one address."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _network(text: object) -> Network | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)  # host bits set: its network
    except ValueError:
        return None


def _all_ones(version: int) -> int:
    bits: int = 32 if version == 4 else 128
    return (1 << bits) - 1


def entry_range(entry: Mapping[str, Any]) -> Range | None:
    """The first and last address of one ``spec.pools`` entry, or None when it holds none."""
    start = parse_address(entry.get("start"))
    subnet = _network(entry.get("subnet"))
    if entry.get("subnet") and subnet is None:
        return None
    if entry.get("start"):
        if start is None:
            return None
        version = start.version
        last = _all_ones(version)
        if entry.get("end"):
            end = parse_address(entry.get("end"))
            if end is None or end.version != version:
                return None
            last = int(end)
        if subnet is not None:
            if subnet.version != version or not (
                int(subnet.network_address) <= int(start) <= int(subnet.broadcast_address)
            ):
                return None
            last = min(last, int(subnet.broadcast_address))
        return Range(version, int(start), last) if int(start) <= last else None
    if subnet is None:
        return None
    first, last = int(subnet.network_address) + 1, int(subnet.broadcast_address)
    return Range(subnet.version, first, last) if first <= last else None


def pool_ranges(spec: Mapping[str, Any]) -> list[Range]:
    """Every entry's range, in the order of ``spec.pools``."""
    entries = spec.get("pools") or []
    found = [entry_range(e) for e in entries if isinstance(e, Mapping)]
    return [r for r in found if r is not None]


def contains(ranges: list[Range], text: object) -> bool:
    """Whether the address ``text`` names lies in one of the ranges."""
    address = parse_address(text)
    if address is None:
        return False
    value = int(address)
    return any(r.version == address.version and r.first <= value <= r.last for r in ranges)
