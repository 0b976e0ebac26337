"""IP text in, one integer key and one canonical text out: the only place addresses are parsed.

Parsing is as strict as the CRD patterns (dotted quads without leading zeros, IPv6 in hex
groups; no zone ids, no IPv4-embedded IPv6 text). Printing matches Go's ``net.IP.String()``,
which is what upstream wrote into existing objects: IPv6 lower-case and compressed per
RFC 5952, and any address in ``::ffff:0:0/96`` printed as a dotted IPv4 address.

Go treats an IPv4 address and its ``::ffff:a.b.c.d`` form as the same address. The core does
the same through *keys*: every address is an integer in one 128-bit space where IPv4
``a.b.c.d`` is ``::ffff:a.b.c.d``. So text -> key -> text is a bijection on canonical text,
and pools, ledgers and interval sets never need to know the family.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

import netaddr

Family = Literal[4, 6]

V4_BASE = 0xFFFF_0000_0000
"""Key of ``0.0.0.0`` (that is, of ``::ffff:0.0.0.0``)."""
V4_LAST = 0xFFFF_FFFF_FFFF
"""Key of ``255.255.255.255``, the last IPv4 address."""
V6_LAST = (1 << 128) - 1
"""Key of ``ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff``."""

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"({_OCTET})\.({_OCTET})\.({_OCTET})\.({_OCTET})")
_HEX_AND_COLONS = re.compile(r"[0-9A-Fa-f:]+")
_ZERO_RUNS = tuple(f":{':'.join(['0'] * length)}:" for length in range(8, 1, -1))

CACHE_SIZE = 4096
"""Recently parsed and printed addresses: an allocation prints its address, then names the
object and records the holding, which parse it again."""
_LENGTH = re.compile(r"[0-9]{1,3}")


def parse_ip(text: object) -> netaddr.IPAddress | None:
    """The address written in ``text``, or None when the CRD pattern would refuse it."""
    key = key_of(text)
    return None if key is None else from_key(key)


def key_of(text: object) -> int | None:
    """The key of the address written in ``text``, or None when it is not a strict IP."""
    return _key_of_text(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _key_of_text(text: str) -> int | None:
    dotted = _IPV4.fullmatch(text)
    if dotted:
        a, b, c, d = map(int, dotted.groups())
        return V4_BASE | (a << 24) | (b << 16) | (c << 8) | d
    if _HEX_AND_COLONS.fullmatch(text):
        return _parse_v6(text)
    return None


def clear_caches() -> None:
    """Forget the recently parsed and printed addresses (for memory measurements)."""
    _key_of_text.cache_clear()
    _parse_subnet_text.cache_clear()
    text_of.cache_clear()


def _parse_v6(text: str) -> int | None:
    """Hex groups (only hex digits and colons are left): eight, or fewer around one ``::``."""
    if "::" in text:
        if text.count("::") > 1:
            return None
        head, tail = text.split("::")
        left = head.split(":") if head else []
        right = tail.split(":") if tail else []
        missing = 8 - len(left) - len(right)
        if missing < 1:
            return None
    else:
        left, right, missing = text.split(":"), [], 0
        if len(left) != 8:
            return None
    value = 0
    for group in left:
        if not 0 < len(group) <= 4:
            return None
        value = (value << 16) | int(group, 16)
    value <<= 16 * missing
    for group in right:
        if not 0 < len(group) <= 4:
            return None
        value = (value << 16) | int(group, 16)
    return value


def key(ip: netaddr.IPAddress) -> int:
    """The key of a netaddr address (IPv4 is mapped into ``::ffff:0:0/96``)."""
    value = int(ip)
    return V4_BASE | value if ip.version == 4 else value


def from_key(value: int) -> netaddr.IPAddress:
    """The netaddr address of a key: IPv4 when it lies in ``::ffff:0:0/96``, else IPv6."""
    if V4_BASE <= value <= V4_LAST:
        return netaddr.IPAddress(value - V4_BASE, 4)
    return netaddr.IPAddress(value, 6)


def canonical(ip: netaddr.IPAddress) -> str:
    """The text Go's ``net.IP.String()`` prints for ``ip``."""
    return text_of(key(ip))


def canonical_text(text: object) -> str | None:
    """The canonical form of an address written as text, or None when it does not parse."""
    value = key_of(text)
    return None if value is None else text_of(value)


@functools.lru_cache(maxsize=CACHE_SIZE)
def text_of(value: int) -> str:
    """The canonical text of a key (see :func:`canonical`)."""
    if V4_BASE <= value <= V4_LAST:
        v4 = value - V4_BASE
        return f"{v4 >> 24}.{(v4 >> 16) & 255}.{(v4 >> 8) & 255}.{v4 & 255}"
    digits = f"{value:032x}"
    padded = f":{':'.join([digits[at : at + 4].lstrip('0') or '0' for at in range(0, 32, 4)])}:"
    # The first of the longest runs of two or more zero groups becomes "::" (RFC 5952 4.2).
    for run in _ZERO_RUNS:
        at = padded.find(run)
        if at >= 0:
            return f"{padded[1:at]}::{padded[at + len(run) : -1]}"
    return padded[1:-1]


def family_of(value: int) -> Family:
    """4 for keys of IPv4 addresses, 6 for the rest."""
    return 4 if V4_BASE <= value <= V4_LAST else 6


def family_last(value: int) -> int:
    """The all-ones address of the key's family: where a start-only entry ends."""
    return V4_LAST if family_of(value) == 4 else V6_LAST


@dataclass(frozen=True)
class Subnet:
    """A parsed CIDR: first and last key (network and broadcast address) and the family."""

    first: int
    last: int
    family: Family

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.first <= value <= self.last


def parse_subnet(text: object) -> Subnet | None:
    """The subnet written as ``address/length`` (host bits allowed), or None."""
    return _parse_subnet_text(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=CACHE_SIZE)
def _parse_subnet_text(text: str) -> Subnet | None:
    if text.count("/") != 1:
        return None
    address, length_text = text.split("/")
    base = key_of(address)
    if base is None or not _LENGTH.fullmatch(length_text):
        return None
    family: Family = 4 if _IPV4.fullmatch(address) else 6
    width = 32 if family == 4 else 128
    length = int(length_text)
    if length > width:
        return None
    host_bits = width - length
    first = (base >> host_bits) << host_bits
    if family == 4:
        first |= V4_BASE
    return Subnet(first=first, last=first + (1 << host_bits) - 1, family=family)
