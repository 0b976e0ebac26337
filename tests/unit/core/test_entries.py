"""Entries: every reason an entry is dropped, with its path and exact message, and its family."""

from __future__ import annotations

from typing import Any

import pytest

from ipam.core import entries, errors

V4 = {"start": "10.0.0.10", "end": "10.0.0.20", "subnet": "10.0.0.0/24"}
V6 = {"start": "fd00::10", "end": "fd00::20", "subnet": "fd00::/64"}


def found(raw: object, **spec: Any) -> list[tuple[str, str, bool]]:
    return [
        (p.error.path, p.error.message, p.upstream)
        for p in entries.problems(2, raw, {"pools": [raw], **spec})
    ]


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        pytest.param(V4, {}, id="ipv4-start-end-subnet"),
        pytest.param(V6, {}, id="ipv6-start-end-subnet"),
        pytest.param({"subnet": "10.0.0.0/24"}, {}, id="subnet-only"),
        pytest.param({"subnet": "10.0.0.17/24"}, {}, id="host-bits-set-in-the-subnet"),
        pytest.param({"start": "10.0.0.1"}, {}, id="start-only"),
        pytest.param({"start": "10.0.0.5", "subnet": "10.0.0.0/24"}, {}, id="start-subnet"),
        pytest.param({"subnet": "10.0.0.0/24", "end": "10.0.0.9"}, {}, id="subnet-end"),
        pytest.param({"start": "10.0.0.9", "end": "10.0.0.9"}, {}, id="one-address"),
        pytest.param({"subnet": "10.0.0.2/31"}, {}, id="slash-31-gives-its-broadcast"),
        pytest.param({"start": "::ffff:a00:1", "end": "10.0.0.9"}, {}, id="ipv4-mapped-is-ipv4"),
        pytest.param({**V4, "prefix": 32, "gateway": "10.0.0.1"}, {}, id="ipv4-prefix-32"),
        pytest.param({**V6, "prefix": 128, "gateway": "fd00::1"}, {}, id="ipv6-prefix-128"),
        pytest.param({**V4, "prefix": 0}, {"prefix": 24}, id="zero-prefix-inherits"),
        pytest.param(V6, {"prefix": 64, "gateway": "fd00::1"}, id="ipv6-inherits-ipv6"),
        pytest.param({**V4, "prefix": 24}, {"prefix": 64}, id="own-prefix-beats-a-long-one"),
        pytest.param({**V4, "gateway": "10.0.0.1"}, {"gateway": "fd00::1"}, id="own-gateway"),
        pytest.param(
            {**V4, "dnsServers": ["fd00::53"]}, {"dnsServers": ["8.8.8.8"]}, id="dns-any-family"
        ),
        pytest.param({**V4, "gateway": ""}, {}, id="empty-gateway-is-unset"),
    ],
)
def test_entries_that_are_kept(raw: dict[str, Any], spec: dict[str, Any]) -> None:
    assert found(raw, **spec) == []


P = "spec.pools[2]"


@pytest.mark.parametrize(
    ("raw", "spec", "expected"),
    [
        pytest.param("10.0.0.0/24", {}, [(P, "must be an object", True)], id="not-an-object"),
        pytest.param(
            {"prefix": 24},
            {},
            [(P, "must set at least one of start, end or subnet", True)],
            id="no-bounds",
        ),
        pytest.param(
            {"start": "10.0.0.256", "end": "x", "subnet": "10.0.0.0/33"},
            {},
            [
                (f"{P}.start", "'10.0.0.256' is not a valid IP address", True),
                (f"{P}.end", "'x' is not a valid IP address", True),
                (f"{P}.subnet", "'10.0.0.0/33' is not a subnet in CIDR notation", True),
            ],
            id="bounds-that-do-not-parse",
        ),
        pytest.param(
            {"start": "10.0.0.1", "end": "fd00::1"},
            {},
            [(f"{P}.end", "end fd00::1 and start 10.0.0.1 are of different IP families", False)],
            id="start-ipv4-end-ipv6",
        ),
        pytest.param(
            {"start": "fd00::1", "subnet": "10.0.0.0/24"},
            {},
            [
                (
                    f"{P}.subnet",
                    "subnet 10.0.0.0/24 and start fd00::1 are of different IP families",
                    False,
                )
            ],
            id="start-ipv6-subnet-ipv4",
        ),
        pytest.param(
            {"end": "fd00::1", "subnet": "10.0.0.0/24"},
            {},
            [
                (
                    f"{P}.end",
                    "end fd00::1 and subnet 10.0.0.0/24 are of different IP families",
                    False,
                )
            ],
            id="no-start-end-ipv6-subnet-ipv4",
        ),
        pytest.param(
            {"start": "10.0.0.9", "end": "10.0.0.1"},
            {},
            [(f"{P}.end", "end 10.0.0.1 is before start 10.0.0.9", True)],
            id="end-before-start",
        ),
        pytest.param(
            {"start": "fd00::1:0", "end": "fd00::ffff"},
            {},
            [(f"{P}.end", "end fd00::ffff is before start fd00::1:0", True)],
            id="ipv6-end-before-start",
        ),
        pytest.param(
            {"start": "10.0.1.1", "subnet": "10.0.0.0/24"},
            {},
            [(f"{P}.start", "start 10.0.1.1 lies outside subnet 10.0.0.0/24", False)],
            id="start-outside-subnet",
        ),
        pytest.param(
            {"start": "10.0.0.250", "end": "10.0.1.9", "subnet": "10.0.0.0/24"},
            {},
            [(f"{P}.end", "end 10.0.1.9 lies outside subnet 10.0.0.0/24", False)],
            id="end-outside-subnet",
        ),
        pytest.param(
            {"subnet": "10.0.0.0/24", "end": "10.0.1.9"},
            {},
            [(f"{P}.end", "end 10.0.1.9 lies outside subnet 10.0.0.0/24", False)],
            id="ignored-end-outside-subnet",
        ),
        pytest.param(
            {"start": "10.0.1.9", "end": "10.0.1.1", "subnet": "10.0.0.0/24"},
            {},
            [
                (f"{P}.end", "end 10.0.1.1 is before start 10.0.1.9", True),
                (f"{P}.start", "start 10.0.1.9 lies outside subnet 10.0.0.0/24", False),
                (f"{P}.end", "end 10.0.1.1 lies outside subnet 10.0.0.0/24", False),
            ],
            id="every-bound-problem-at-once",
        ),
        pytest.param(
            {"end": "10.0.0.9"},
            {},
            [
                (
                    P,
                    "has only end, which counts only with start or subnet: "
                    "it produces no addresses",
                    False,
                )
            ],
            id="end-only",
        ),
        pytest.param(
            {"subnet": "10.0.0.5/32"},
            {},
            [
                (
                    P,
                    "has no start, so it begins one above the network address of subnet "
                    "10.0.0.5/32, which has no address there: it produces no addresses",
                    False,
                )
            ],
            id="subnet-only-slash-32",
        ),
        pytest.param(
            {**V4, "prefix": 33},
            {},
            [(f"{P}.prefix", "prefix 33 is longer than 32, the longest IPv4 prefix", False)],
            id="ipv4-prefix-33",
        ),
        pytest.param(
            {"subnet": "10.0.0.0/24", "prefix": 64},
            {},
            [(f"{P}.prefix", "prefix 64 is longer than 32, the longest IPv4 prefix", False)],
            id="ipv4-subnet-only-prefix-64",
        ),
        pytest.param(
            {**V6, "prefix": 129},
            {},
            [(f"{P}.prefix", "129 is not between 0 and 128", True)],
            id="prefix-129",
        ),
        pytest.param(
            {**V6, "prefix": -1},
            {},
            [(f"{P}.prefix", "-1 is not between 0 and 128", False)],
            id="prefix-negative",
        ),
        pytest.param(
            {**V4, "prefix": "24"},
            {},
            [(f"{P}.prefix", "must be an integer", True)],
            id="prefix-not-an-integer",
        ),
        pytest.param(
            {**V4, "prefix": True},
            {},
            [(f"{P}.prefix", "must be an integer", True)],
            id="prefix-boolean",
        ),
        pytest.param(
            V4,
            {"prefix": 33},
            [
                (
                    P,
                    "has no prefix of its own and inherits spec.prefix 33, longer than 32, "
                    "the longest IPv4 prefix",
                    False,
                )
            ],
            id="ipv4-inherits-33",
        ),
        pytest.param(
            V6,
            {"prefix": -8},
            [
                (
                    P,
                    "has no prefix of its own and inherits spec.prefix -8, which is not "
                    "between 0 and 128",
                    False,
                )
            ],
            id="inherits-a-negative-prefix",
        ),
        pytest.param(
            {**V4, "gateway": "fd00::1"},
            {},
            [
                (
                    f"{P}.gateway",
                    "gateway fd00::1 and the entry's addresses are of different IP families",
                    False,
                )
            ],
            id="gateway-of-the-other-family",
        ),
        pytest.param(
            {"end": "fd00::9", "gateway": "10.0.0.1"},
            {},
            [
                (
                    P,
                    "has only end, which counts only with start or subnet: "
                    "it produces no addresses",
                    False,
                ),
                (
                    f"{P}.gateway",
                    "gateway 10.0.0.1 and the entry's addresses are of different IP families",
                    False,
                ),
            ],
            id="end-only-family-comes-from-end",
        ),
        pytest.param(
            V6,
            {"gateway": "10.0.0.1"},
            [
                (
                    P,
                    "has no gateway of its own and inherits spec.gateway 10.0.0.1, "
                    "which is of the other IP family",
                    False,
                )
            ],
            id="inherits-a-gateway-of-the-other-family",
        ),
        pytest.param(
            {**V4, "gateway": "gw"},
            {},
            [(f"{P}.gateway", "'gw' is not a valid IP address", True)],
            id="gateway-not-an-ip",
        ),
        pytest.param(
            {**V4, "dnsServers": ["8.8.8.8", "", "dns"]},
            {},
            [
                (f"{P}.dnsServers[1]", "'' is not a valid IP address", True),
                (f"{P}.dnsServers[2]", "'dns' is not a valid IP address", True),
            ],
            id="dns-servers-not-ips",
        ),
        pytest.param(
            {**V4, "dnsServers": "8.8.8.8"},
            {},
            [(f"{P}.dnsServers", "must be a list of IP addresses", True)],
            id="dns-servers-not-a-list",
        ),
        pytest.param(
            {
                "start": "10.0.0.1",
                "end": "fd00::1",
                "subnet": "fd00::/64",
                "prefix": 64,
                "gateway": "fd00::1",
            },
            {},
            [
                (f"{P}.end", "end fd00::1 and start 10.0.0.1 are of different IP families", False),
                (
                    f"{P}.subnet",
                    "subnet fd00::/64 and start 10.0.0.1 are of different IP families",
                    False,
                ),
                (f"{P}.prefix", "prefix 64 is longer than 32, the longest IPv4 prefix", False),
                (
                    f"{P}.gateway",
                    "gateway fd00::1 and the entry's addresses are of different IP families",
                    False,
                ),
            ],
            id="the-start-decides-the-family-of-a-mixed-entry",
        ),
    ],
)
def test_each_problem_with_its_path_and_message(
    raw: object, spec: dict[str, Any], expected: list[tuple[str, str, bool]]
) -> None:
    assert found(raw, **spec) == expected


def test_a_problem_is_a_field_error() -> None:
    (problem,) = entries.problems(0, {"end": "10.0.0.1"}, {})
    assert isinstance(problem.error, errors.FieldError)


@pytest.mark.parametrize(
    ("raw", "family"),
    [
        pytest.param({"start": "10.0.0.1", "end": "fd00::1"}, 4, id="start-first"),
        pytest.param({"subnet": "fd00::/64", "end": "10.0.0.1"}, 6, id="then-subnet"),
        pytest.param({"end": "fd00::1"}, 6, id="then-end"),
        pytest.param({"start": "x", "subnet": "10.0.0.0/8"}, 4, id="what-parses"),
        pytest.param({"start": "::ffff:10.0.0.1"}, None, id="nothing-parses"),
        pytest.param({"start": "::ffff:a00:1"}, 4, id="ipv4-mapped-hex-is-ipv4"),
        pytest.param(None, None, id="not-an-object"),
    ],
)
def test_the_family_of_an_entry(raw: object, family: int | None) -> None:
    assert entries.family(raw) == family


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            {"start": "10.0.0.1", "end": "10.0.0.5", "subnet": "garbage"}, id="bad-subnet"
        ),
        pytest.param({"start": "bogus", "subnet": "10.0.0.0/30"}, id="bad-start-with-subnet"),
    ],
)
def test_an_entry_with_a_field_that_does_not_parse_walks_nothing(raw: dict[str, str]) -> None:
    assert entries.bounds(raw) is None


@pytest.mark.parametrize(
    ("raw", "spec"),
    [
        pytest.param({**V4, "prefix": 32}, {}, id="ipv4-prefix-32"),
        pytest.param(V4, {"prefix": 32}, id="ipv4-inherits-32"),
        pytest.param(V6, {"prefix": 128}, id="ipv6-inherits-128"),
        pytest.param({**V4, "gateway": ""}, {"gateway": "10.0.0.1"}, id="empty-gateway-inherits"),
    ],
)
def test_the_longest_prefix_of_each_family_and_an_empty_gateway_are_fine(
    raw: dict[str, Any], spec: dict[str, Any]
) -> None:
    assert found(raw, **spec) == []


def test_a_prefix_of_zero_is_no_prefix_of_its_own_and_the_inherited_one_is_judged() -> None:
    assert found({**V4, "prefix": 0}, prefix=40) == [
        (
            "spec.pools[2]",
            "has no prefix of its own and inherits spec.prefix 40, longer than 32, "
            "the longest IPv4 prefix",
            False,
        )
    ]


def test_an_empty_start_is_no_start() -> None:
    assert found({"start": "", "subnet": "10.0.0.0/24"}) == []


def test_an_empty_gateway_inherits_the_pools_and_is_judged_by_it() -> None:
    assert found({**V4, "gateway": ""}, gateway="fd00::1") == [
        (
            "spec.pools[2]",
            "has no gateway of its own and inherits spec.gateway fd00::1, "
            "which is of the other IP family",
            False,
        )
    ]
