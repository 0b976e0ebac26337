"""Strict IP parsing, Go's canonical text, and the one key space of both families."""

from __future__ import annotations

import netaddr
import pytest

from ipam.core import addresses


@pytest.mark.parametrize(
    ("text", "version"),
    [
        pytest.param("192.168.0.1", 4, id="ipv4"),
        pytest.param("0.0.0.0", 4, id="ipv4-zero"),
        pytest.param("255.255.255.255", 4, id="ipv4-all-ones"),
        pytest.param("::", 6, id="ipv6-unspecified"),
        pytest.param("::1", 6, id="ipv6-loopback"),
        pytest.param("fd00::1", 6, id="ipv6-compressed"),
        pytest.param("FD00::0001", 6, id="ipv6-upper-case-with-leading-zeros"),
        pytest.param("1:2:3:4:5:6:7:8", 6, id="ipv6-full"),
        pytest.param("1:2:3:4:5:6:7::", 6, id="ipv6-double-colon-for-one-group-at-the-end"),
        pytest.param("::2:3:4:5:6:7:8", 6, id="ipv6-double-colon-for-one-group-at-the-start"),
        pytest.param("::ffff:102:304", 4, id="ipv4-mapped-in-hex-is-ipv4-as-in-go"),
    ],
)
def test_parse_ip_accepts_what_the_crd_pattern_accepts(text: str, version: int) -> None:
    ip = addresses.parse_ip(text)
    assert isinstance(ip, netaddr.IPAddress)
    assert ip.version == version


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("01.2.3.4", id="ipv4-leading-zero"),
        pytest.param("256.1.1.1", id="ipv4-octet-too-big"),
        pytest.param("1.2.3", id="ipv4-three-octets"),
        pytest.param("1.2.3.4.5", id="ipv4-five-octets"),
        pytest.param(" 1.2.3.4", id="leading-space"),
        pytest.param("1.2.3.4\n", id="trailing-newline"),
        pytest.param("1.2.3.4/32", id="cidr"),
        pytest.param("fe80::1%eth0", id="ipv6-zone-id"),
        pytest.param("::ffff:1.2.3.4", id="ipv6-with-embedded-ipv4"),
        pytest.param("::1.2.3.4", id="ipv6-compatible-with-embedded-ipv4"),
        pytest.param("1:2:3:4:5:6:7:8:9", id="ipv6-nine-groups"),
        pytest.param("1:2:3:4:5:6:7", id="ipv6-seven-groups"),
        pytest.param("1::2::3", id="ipv6-two-double-colons"),
        pytest.param(":::", id="ipv6-triple-colon"),
        pytest.param("1:2:3:4:5:6:7:8::", id="ipv6-double-colon-for-no-group"),
        pytest.param("12345::", id="ipv6-group-too-long"),
        pytest.param("g::1", id="ipv6-not-hex"),
        pytest.param(None, id="none"),
        pytest.param(167772161, id="integer"),
    ],
)
def test_parse_ip_rejects_what_the_crd_pattern_rejects(text: object) -> None:
    assert addresses.parse_ip(text) is None
    assert addresses.key_of(text) is None


@pytest.mark.parametrize(
    ("text", "go_prints"),
    [
        pytest.param("10.0.0.1", "10.0.0.1", id="ipv4-unchanged"),
        pytest.param("FD00:0:0:0:0:0:0:1", "fd00::1", id="ipv6-lower-case-compressed"),
        pytest.param("fd00:0000::0001", "fd00::1", id="ipv6-leading-zeros-dropped"),
        pytest.param("1:0:0:1:0:0:0:1", "1:0:0:1::1", id="ipv6-longest-zero-run-compressed"),
        pytest.param("1:0:0:1:1:0:0:1", "1::1:1:0:0:1", id="ipv6-first-of-equal-runs"),
        pytest.param("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1", id="ipv6-single-zero-not-compressed"),
        pytest.param("fd00::", "fd00::", id="ipv6-trailing-zeros"),
        pytest.param("0:0:0:0:0:0:0:0", "::", id="ipv6-all-zeros"),
        pytest.param("::ffff:102:304", "1.2.3.4", id="ipv4-mapped-prints-dotted-as-go"),
        pytest.param("::ffff:0:0", "0.0.0.0", id="ipv4-mapped-zero-prints-dotted"),
        pytest.param("::102:304", "::102:304", id="ipv4-compatible-stays-hex-unlike-netaddr"),
        pytest.param("::fffe:102:304", "::fffe:102:304", id="next-to-mapped-stays-hex"),
    ],
)
def test_canonical_text_matches_go(text: str, go_prints: str) -> None:
    assert addresses.canonical_text(text) == go_prints
    ip = addresses.parse_ip(text)
    assert ip is not None
    assert addresses.canonical(ip) == go_prints


def test_canonical_accepts_netaddr_addresses_of_both_families() -> None:
    assert addresses.canonical(netaddr.IPAddress("10.1.2.3")) == "10.1.2.3"
    assert addresses.canonical(netaddr.IPAddress("FD00::A")) == "fd00::a"


def test_an_ipv4_address_and_its_mapped_ipv6_form_share_one_key() -> None:
    assert addresses.key_of("1.2.3.4") == addresses.key_of("::ffff:102:304")
    assert addresses.key_of("1.2.3.4") == addresses.key(netaddr.IPAddress("1.2.3.4"))


@pytest.mark.parametrize(
    "text",
    ["0.0.0.0", "10.0.0.1", "255.255.255.255", "::", "::1", "fd00::1", "ffff::", "1::1:1:0:0:1"],
)
def test_key_and_text_round_trip_on_canonical_text(text: str) -> None:
    value = addresses.key_of(text)
    assert value is not None
    assert addresses.text_of(value) == text
    assert addresses.canonical(addresses.from_key(value)) == text


@pytest.mark.parametrize(
    ("text", "family", "last"),
    [
        pytest.param("10.0.0.1", 4, "255.255.255.255", id="ipv4"),
        pytest.param("fd00::1", 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", id="ipv6"),
    ],
)
def test_each_family_ends_at_its_all_ones_address(text: str, family: int, last: str) -> None:
    value = addresses.key_of(text)
    assert value is not None
    assert addresses.family_of(value) == family
    assert addresses.text_of(addresses.family_last(value)) == last


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        pytest.param("192.168.1.0/24", "192.168.1.0", "192.168.1.255", id="ipv4"),
        pytest.param("192.168.1.70/26", "192.168.1.64", "192.168.1.127", id="ipv4-host-bits"),
        pytest.param("10.0.0.7/32", "10.0.0.7", "10.0.0.7", id="ipv4-single"),
        pytest.param("0.0.0.0/0", "0.0.0.0", "255.255.255.255", id="ipv4-everything"),
        pytest.param("fd00::/64", "fd00::", "fd00::ffff:ffff:ffff:ffff", id="ipv6"),
        pytest.param("fd00::/05", "f800::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", id="v6-0"),
    ],
)
def test_parse_subnet_gives_network_and_last_address(text: str, first: str, last: str) -> None:
    subnet = addresses.parse_subnet(text)
    assert subnet is not None
    assert addresses.text_of(subnet.first) == first
    assert addresses.text_of(subnet.last) == last


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("10.0.0.0", id="no-length"),
        pytest.param("10.0.0.0/33", id="ipv4-too-long"),
        pytest.param("fd00::/129", id="ipv6-too-long"),
        pytest.param("10.0.0.0/x", id="length-not-a-number"),
        pytest.param("10.0.0.0/8/8", id="two-slashes"),
        pytest.param("10.0.0.0/-1", id="negative-length"),
        pytest.param("010.0.0.0/8", id="bad-address"),
        pytest.param(None, id="none"),
    ],
)
def test_parse_subnet_rejects_what_is_not_a_cidr(text: object) -> None:
    assert addresses.parse_subnet(text) is None


def test_subnet_membership_is_arithmetic_on_keys() -> None:
    subnet = addresses.parse_subnet("10.0.0.0/30")
    assert subnet is not None
    assert addresses.key_of("10.0.0.3") in subnet
    assert addresses.key_of("10.0.0.4") not in subnet


@pytest.mark.parametrize("text", [":1::2", "1::2:", "1::12345", "fd00::1::"])
def test_a_double_colon_address_with_an_empty_or_long_group_has_no_key(text: str) -> None:
    assert addresses.key_of(text) is None


def test_the_first_ipv4_address_is_of_family_4_and_a_subnet_holds_its_first_address() -> None:
    first = addresses.key_of("0.0.0.0")
    assert first is not None
    assert addresses.family_of(first) == 4
    subnet = addresses.parse_subnet("10.0.0.0/30")
    assert subnet is not None
    assert addresses.key_of("10.0.0.0") in subnet
