"""Whatever a spec holds, the pool hands out only addresses of entries validation accepts.

Specs are drawn from a small universe of both families (bounds near each other, near a
subnet's edges and in the other family; prefixes on both sides of 32 and 128; gateways of
either family, inherited or not), so that every rule of :mod:`ipam.core.entries` fires
often. Each produced address is checked at the ends and in the middle of every piece of
the pool, never by walking it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.core import addresses, allocate, errors, ledger, pools, validation
from tests.hypothesis_budget import examples

V4 = ["10.0.0.0", "10.0.0.1", "10.0.0.7", "10.0.0.8", "10.0.0.255", "10.0.1.0", "::ffff:a00:3"]
V6 = ["fd00::", "fd00::1", "fd00::7", "fd00::8", "fd00::ffff", "fd00::1:0"]
SUBNETS = ["10.0.0.0/29", "10.0.0.0/24", "10.0.0.5/32", "fd00::/125", "fd00::/64", "fd00::8/128"]
PREFIXES = [0, 8, 24, 32, 33, 64, 128, 129, -1]
GATEWAYS = ["10.0.0.1", "fd00::1"]

ips = st.sampled_from(V4 + V6)


@st.composite
def raw_entries(draw: st.DrawFn) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, values in (
        ("start", ips),
        ("end", ips),
        ("subnet", st.sampled_from(SUBNETS)),
        ("prefix", st.sampled_from(PREFIXES)),
        ("gateway", st.sampled_from(GATEWAYS)),
        ("dnsServers", st.lists(st.sampled_from([*GATEWAYS, "dns"]), max_size=2)),
    ):
        if draw(st.booleans()):
            entry[key] = draw(values)
    return entry


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "namePrefix": "pfx",
        "pools": draw(st.lists(raw_entries(), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        spec["prefix"] = draw(st.sampled_from(PREFIXES))
    if draw(st.booleans()):
        spec["gateway"] = draw(st.sampled_from(GATEWAYS))
    return spec


def samples(pool: pools.Pool) -> list[int]:
    """Both ends and the middle of every merged piece of the pool."""
    return [key for lo, hi in pool.regions() for key in {lo, (lo + hi) // 2, hi}]


def rejected_entries(spec: dict[str, Any]) -> set[int]:
    found = validation.validate_pool(spec)
    return {
        int(error.path.removeprefix("spec.pools[").split("]")[0])
        for error in found
        if error.path.startswith("spec.pools[")
    }


@settings(max_examples=examples(300), deadline=None)
@given(spec=specs())
def test_the_pool_hands_out_only_what_validation_accepts(spec: dict[str, Any]) -> None:
    pool = pools.Pool.from_spec(spec)
    rejected = rejected_entries(spec)
    # The pool drops exactly the entries validation rejects, for exactly the same reasons.
    assert {entry.index for entry in pool.dropped} == rejected
    entry_errors = [e for e in validation.validate_pool(spec) if e.path.startswith("spec.pools[")]
    assert list(pool.problems) == entry_errors
    # Every kept entry lies in one family.
    for entry in pool.entries:
        if entry.first is not None and entry.last is not None:
            assert addresses.family_of(entry.first) == addresses.family_of(entry.last)
    for key in samples(pool):
        # Every address produced lies in an entry validation accepts ...
        entry = pool.entry_for_key(key)
        assert entry is not None
        assert entry.index not in rejected, (addresses.text_of(key), entry)
        # ... and carries no prefix longer than its family, no gateway of the other family.
        details = pool.details_for_key(key)
        assert details is not None
        family = ipaddress.ip_address(details.address).version
        assert 0 <= details.prefix <= (32 if family == 4 else 128), details
        if details.gateway is not None:
            assert addresses.family_of(addresses.key_of(details.gateway) or 0) == family, details


@settings(max_examples=examples(300), deadline=None)
@given(spec=specs(), requested=st.none() | ips)
def test_allocation_fails_as_invalid_exactly_when_every_entry_is_rejected(
    spec: dict[str, Any], requested: str | None
) -> None:
    pool = pools.Pool.from_spec(spec)
    request = allocate.ClaimRequest(ledger.ClaimKey("metal3", "c"), requested)
    every_entry_rejected = rejected_entries(spec) == set(range(len(spec["pools"])))
    try:
        got = allocate.allocate(pool, ledger.Ledger(), request)
    except errors.PoolInvalid:
        assert every_entry_rejected
        return
    except errors.IPAMError:
        assert not every_entry_rejected
        return
    assert not every_entry_rejected
    entry = pool.entry_for_key(addresses.key_of(got.details.address) or -1)
    assert entry is not None
    assert entry.index not in rejected_entries(spec)
