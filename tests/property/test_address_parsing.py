"""Strict parsing agrees with the standard library on every text both are meant to judge."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.core import addresses
from tests.hypothesis_budget import examples

# Dotted decimal and hex-and-colon texts only: the forms the CRD pattern is about. (The
# standard library also takes zone ids and embedded IPv4, which the pattern refuses.)
dotted = st.text(alphabet="0123456789.", max_size=16)
hexes = st.text(alphabet="0123456789abcdefABCDEF:", max_size=41)
ipv6_groups = st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=8, max_size=8)


def stdlib_key(text: str) -> int | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 4:
        return addresses.V4_BASE | int(ip)
    return int(ip)


@settings(max_examples=examples(400), deadline=None)
@given(st.one_of(dotted, hexes))
def test_parsing_agrees_with_the_standard_library(text: str) -> None:
    assert addresses.key_of(text) == stdlib_key(text)


@settings(max_examples=examples(300), deadline=None)
@given(ipv6_groups)
def test_every_ipv6_address_prints_rfc_5952_text_that_parses_back(groups: list[int]) -> None:
    value = 0
    for group in groups:
        value = (value << 16) | group
    text = addresses.text_of(value)
    if addresses.V4_BASE <= value <= addresses.V4_LAST:
        assert text == str(ipaddress.IPv4Address(value - addresses.V4_BASE))
    else:
        assert text == ipaddress.IPv6Address(value).compressed
    assert addresses.key_of(text) == value
