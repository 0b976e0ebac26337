"""IPAddress object names, ``<namePrefix>-<ip>``, their locks' names, and the pools that clash.

The name is the one Metal3 IPAM gives: the canonical address with every ``.`` and ``:``
turned into ``-``, appended to the pool's namePrefix with a ``-``, and every trailing ``-``
stripped (``fd00::`` gives ``<prefix>-fd00``). Because the API server refuses a second object
of the same name, the name is also the lock that keeps two writers from taking one address.

That lock turns into a trap when two pools of one namespace can produce the same name (two
pools with one namePrefix, upstream issue #1437): the second pool's claims fail on a name
clash. :func:`prefix_collisions` finds such pairs, :func:`overlapping_pools` finds pools that
would hand out the same address. :func:`is_object_name` says whether a name a claim gives
for its pool can name any object at all. Between the two IPAddress kinds the name is no
lock (they are two resources); :func:`address_lock_name` names the Lease that is, when
several controllers act at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import combinations

from ipam.core import addresses, pools

_NAME_SUFFIX_CHARACTERS = re.compile(r"[0-9a-f-]*")


_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
SUBDOMAIN_MAX = 253


def is_object_name(name: str) -> bool:
    """Whether ``name`` can name an object (a lowercase RFC 1123 subdomain, as every one of
    ours must be); anything else names nothing that can ever exist."""
    return len(name) <= SUBDOMAIN_MAX and _SUBDOMAIN.fullmatch(name) is not None


def address_object_name(name_prefix: str, address: str) -> str:
    """The IPAddress name for ``address`` (any spelling; named after its canonical text)."""
    text = addresses.canonical_text(address) or address
    return f"{name_prefix}-{text.replace('.', '-').replace(':', '-')}".rstrip("-")


LOCK_PREFIX = "ipam-address"


def address_lock_name(namespace: str, address: str) -> str:
    """The name of the Lease that locks ``address`` in ``namespace`` (for every pool there:
    pools of a namespace whose ranges overlap must not hand it out twice either).

    ``ipam-address.<namespace>.<address>``, the address spelled so that every address gives
    another valid label (IPv4 dotted with ``-``, IPv6 as all eight groups of four hex
    digits); a namespace is a label of at most 63 characters, so the name always fits.
    """
    text = addresses.canonical_text(address) or address
    key = addresses.key_of(text)
    if "." in text or key is None:
        label = text.replace(".", "-").replace(":", "-")
    else:
        digits = f"{key:032x}"
        label = "-".join(digits[at : at + 4] for at in range(0, 32, 4))
    return f"{LOCK_PREFIX}.{namespace}.{label}"


def prefix_collisions(pool_map: Mapping[str, pools.Pool]) -> list[tuple[str, str]]:
    """Pairs of pool names (sorted) whose IPAddress names could be equal.

    Two pools clash when they share a namePrefix, or when one prefix is the other plus
    ``-`` and characters an address can print (``a`` with ``1.2.3.4`` and ``a-1`` with
    ``2:3:4::`` both name ``a-1-2-3-4``). This is a conservative test on prefixes only.
    """
    clashes = []
    for left, right in combinations(sorted(pool_map), 2):
        if _prefixes_clash(pool_map[left].name_prefix, pool_map[right].name_prefix):
            clashes.append((left, right))
    return clashes


def _prefixes_clash(one: str, other: str) -> bool:
    if one == other:
        return True
    short, long = sorted((one, other), key=len)
    if not long.startswith(f"{short}-"):
        return False
    return _NAME_SUFFIX_CHARACTERS.fullmatch(long[len(short) + 1 :]) is not None


def overlapping_pools(pool_map: Mapping[str, pools.Pool]) -> list[tuple[str, str]]:
    """Pairs of pool names (sorted) that produce at least one common address."""
    return [
        (left, right)
        for left, right in combinations(sorted(pool_map), 2)
        if _overlap(pool_map[left], pool_map[right])
    ]


def _overlap(one: pools.Pool, other: pools.Pool) -> bool:
    left, right = list(one.regions()), list(other.regions())
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i][1] < right[j][0]:
            i += 1
        elif right[j][1] < left[i][0]:
            j += 1
        else:
            return True
    return False


def address_of_name(name_prefix: str, object_name: str) -> str | None:
    """The address whose IPAddress name in a ``name_prefix`` pool is ``object_name``, or None.

    The inverse of :func:`address_object_name`: used to see which addresses of a pool an
    object of another pool blocks by taking their name.
    """
    if object_name == name_prefix:
        return "::"  # every character of "::" turns into a trailing "-", stripped
    head = f"{name_prefix}-"
    if not object_name.startswith(head):
        return None
    tail = object_name[len(head) :]
    parts = tail.split("-")
    guesses = [".".join(parts)] if len(parts) == 4 else []
    guesses += [":".join(parts), ":".join(parts) + "::"]
    for guess in guesses:
        text = addresses.canonical_text(guess)
        if text is not None and address_object_name(name_prefix, text) == object_name:
            return text
    return None
