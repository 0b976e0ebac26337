"""One ``spec.pools`` entry judged on its own: its family, its bounds, and why it may produce none.

An entry with a problem is *dropped*: it produces no address. :class:`ipam.core.pools.Pool`
drops exactly the entries :func:`problems` finds fault with, and
:func:`ipam.core.validation.validate_pool` reports exactly those problems, so what the
controller says is wrong with a pool and what it refuses to hand out never disagree. The
CRD refuses most of these at admission; the rules here also cover objects stored before
the CRD had them.

========================================  =====================  ============================
problem                                   reported at            at admission (the CRD)
========================================  =====================  ============================
not an object                             ``spec.pools[i]``      schema type
none of start, end or subnet              ``spec.pools[i]``      CEL rule (upstream webhook)
start, end, gateway or a DNS server is    ``.start`` ...         schema pattern
not an IP; subnet is not a CIDR
end and start of different families       ``.end``               CEL rule
subnet and start of different families    ``.subnet``            CEL rule
end and subnet of different families      ``.end``               CEL rule (entries without
                                                                 start)
end before start                          ``.end``               CEL rule (upstream webhook)
start outside the subnet                  ``.start``             CEL rule
end outside the subnet                    ``.end``               CEL rule
only end (upstream ignores it)            ``spec.pools[i]``      accepted, as upstream does
subnet without start and with no          ``spec.pools[i]``      accepted, as upstream does
address above its network address
prefix outside 0..128                     ``.prefix``            schema minimum and maximum
IPv4 entry with a prefix above 32         ``.prefix``            CEL rule
IPv4 entry inheriting a spec.prefix       ``spec.pools[i]``      CEL rule on ``spec.prefix``
above 32 (or one outside 0..128)
gateway of the other family               ``.gateway``           CEL rule
inheriting a spec.gateway of the other    ``spec.pools[i]``      CEL rule on ``spec.gateway``
family
========================================  =====================  ============================

An entry's family is that of its start, else of its subnet, else of its end. DNS servers
are not tied to a family: a dual-stack host may use resolvers of either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ipam.core import addresses, errors


@dataclass(frozen=True)
class Problem:
    """Why an entry is dropped; ``upstream`` when Metal3 IPAM's own webhook has the rule too."""

    error: errors.FieldError
    upstream: bool = False


def bounds(raw: object) -> tuple[int, int] | None:
    """First and last key the entry's walk produces (see :mod:`ipam.core.pools`), or None.

    This is the enumeration alone, as Metal3 IPAM walks it, whatever :func:`problems` says.
    """
    if not isinstance(raw, Mapping):
        return None
    start = addresses.key_of(raw.get("start"))
    end = addresses.key_of(raw.get("end"))
    subnet = addresses.parse_subnet(raw.get("subnet"))
    if raw.get("subnet") and subnet is None:
        return None
    if start is None:
        if raw.get("start") or subnet is None:
            return None
        return _nonempty(subnet.first + 1, subnet.last)
    if raw.get("end") and end is None:
        return None
    last = addresses.family_last(start) if end is None else end
    if subnet is not None:
        if start not in subnet:
            return None
        last = min(last, subnet.last)
    return _nonempty(start, last)


def _nonempty(first: int, last: int) -> tuple[int, int] | None:
    return (first, last) if first <= last else None


def family(raw: object) -> addresses.Family | None:
    """The entry's family: its start's, else its subnet's, else its end's (what parses)."""
    if not isinstance(raw, Mapping):
        return None
    start = addresses.key_of(raw.get("start"))
    if start is not None:
        return addresses.family_of(start)
    subnet = addresses.parse_subnet(raw.get("subnet"))
    if subnet is not None:
        return subnet.family
    end = addresses.key_of(raw.get("end"))
    return None if end is None else addresses.family_of(end)


def problems(index: int, raw: object, spec: Mapping[str, Any]) -> list[Problem]:
    """Every problem of ``spec["pools"][index]`` (``raw``); ``spec`` gives what it inherits."""
    found = _Found(f"spec.pools[{index}]")
    if not isinstance(raw, Mapping):
        found.add("", "must be an object", upstream=True)
        return found.problems
    entry_family = _bounds(found, raw)
    _prefix(found, raw.get("prefix"), entry_family, spec.get("prefix"))
    _gateway(found, raw.get("gateway"), entry_family, spec.get("gateway"))
    _dns_servers(found, raw.get("dnsServers"))
    return found.problems


@dataclass
class _Found:
    path: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, field_path: str, message: str, *, upstream: bool = False) -> None:
        self.problems.append(Problem(errors.FieldError(self.path + field_path, message), upstream))


def _bounds(found: _Found, raw: Mapping[str, Any]) -> addresses.Family | None:
    """Check start, end and subnet; return the entry's family when they parse."""
    start_text, end_text, subnet_text = (raw.get(k) for k in ("start", "end", "subnet"))
    if not (start_text or end_text or subnet_text):
        found.add("", "must set at least one of start, end or subnet", upstream=True)
        return None
    start = _ip(found, ".start", start_text)
    end = _ip(found, ".end", end_text)
    subnet = addresses.parse_subnet(subnet_text) if subnet_text else None
    if subnet_text and subnet is None:
        found.add(".subnet", f"{subnet_text!r} is not a subnet in CIDR notation", upstream=True)
    if (start_text and start is None) or (end_text and end is None) or (subnet_text and not subnet):
        return None
    # The entry's family, as :func:`family` reads it: its start's, else subnet's, else end's.
    if start is not None:
        entry_family: addresses.Family | None = addresses.family_of(start)
    elif subnet is not None:
        entry_family = subnet.family
    else:
        entry_family = _family_of(end)
    if _mixed(found, raw, start, end, subnet):
        return entry_family
    if start is not None and end is not None and end < start:
        found.add(".end", f"end {end_text} is before start {start_text}", upstream=True)
    if start is not None and subnet is not None and start not in subnet:
        found.add(".start", f"start {start_text} lies outside subnet {subnet_text}")
    if end is not None and subnet is not None and end not in subnet:
        found.add(".end", f"end {end_text} lies outside subnet {subnet_text}")
    if start is None and subnet is None:
        found.add(
            "", "has only end, which counts only with start or subnet: it produces no addresses"
        )
    elif start is None and subnet is not None and subnet.first + 1 > subnet.last:
        found.add(
            "",
            f"has no start, so it begins one above the network address of subnet {subnet_text}, "
            "which has no address there: it produces no addresses",
        )
    return entry_family


def _mixed(
    found: _Found,
    raw: Mapping[str, Any],
    start: int | None,
    end: int | None,
    subnet: addresses.Subnet | None,
) -> bool:
    """Report fields of different families; True when there are any."""
    start_family = None if start is None else addresses.family_of(start)
    end_family = None if end is None else addresses.family_of(end)
    subnet_family = None if subnet is None else subnet.family
    before = len(found.problems)
    if start_family and end_family and start_family != end_family:
        found.add(".end", f"end {raw['end']} and start {raw['start']} are of different IP families")
    if start_family and subnet_family and start_family != subnet_family:
        found.add(
            ".subnet",
            f"subnet {raw['subnet']} and start {raw['start']} are of different IP families",
        )
    if not start_family and end_family and subnet_family and end_family != subnet_family:
        found.add(
            ".end", f"end {raw['end']} and subnet {raw['subnet']} are of different IP families"
        )
    return len(found.problems) > before


def _prefix(
    found: _Found, value: object, entry_family: addresses.Family | None, inherited: object
) -> None:
    if value is not None and not (_is_int(value) and value == 0):
        if not _is_int(value):
            found.add(".prefix", "must be an integer", upstream=True)
        elif not 0 <= value <= 128:
            found.add(".prefix", f"{value} is not between 0 and 128", upstream=value > 128)
        elif entry_family == 4 and value > 32:
            found.add(".prefix", f"prefix {value} is longer than 32, the longest IPv4 prefix")
        return
    if not _is_int(inherited) or entry_family is None:
        return
    if not 0 <= inherited <= 128:
        found.add(
            "",
            f"has no prefix of its own and inherits spec.prefix {inherited}, "
            "which is not between 0 and 128",
        )
    elif entry_family == 4 and inherited > 32:
        found.add(
            "",
            f"has no prefix of its own and inherits spec.prefix {inherited}, longer than 32, "
            "the longest IPv4 prefix",
        )


def _gateway(
    found: _Found, value: object, entry_family: addresses.Family | None, inherited: object
) -> None:
    if value is not None and value != "":
        gateway = _ip(found, ".gateway", value)
        if gateway is not None and entry_family and addresses.family_of(gateway) != entry_family:
            found.add(
                ".gateway",
                f"gateway {value} and the entry's addresses are of different IP families",
            )
        return
    default = addresses.key_of(inherited)
    if default is not None and entry_family and addresses.family_of(default) != entry_family:
        found.add(
            "",
            f"has no gateway of its own and inherits spec.gateway {inherited}, "
            "which is of the other IP family",
        )


def _dns_servers(found: _Found, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        found.add(".dnsServers", "must be a list of IP addresses", upstream=True)
        return
    for index, item in enumerate(value):
        if addresses.key_of(item) is None:
            found.add(f".dnsServers[{index}]", f"{item!r} is not a valid IP address", upstream=True)


def _ip(found: _Found, field_path: str, value: object) -> int | None:
    """The key of an optional IP field; a problem when it is set and does not parse."""
    if value is None or value == "":
        return None
    key = addresses.key_of(value)
    if key is None:
        found.add(field_path, f"{value!r} is not a valid IP address", upstream=True)
    return key


def _family_of(key: int | None) -> addresses.Family | None:
    return None if key is None else addresses.family_of(key)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
