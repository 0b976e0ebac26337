"""IPAddress names as Metal3 makes them, and pools whose names or ranges clash."""

from __future__ import annotations

from typing import Any

import pytest

from ipam.core import names, pools


@pytest.mark.parametrize(
    ("prefix", "address", "expected"),
    [
        pytest.param("pool1-prov", "192.168.0.13", "pool1-prov-192-168-0-13", id="ipv4"),
        pytest.param("pfx", "fd00::1", "pfx-fd00--1", id="ipv6-double-colon-gives-two-dashes"),
        pytest.param("pfx", "fd00::", "pfx-fd00", id="ipv6-trailing-double-colon-trimmed"),
        pytest.param("pfx", "::", "pfx", id="ipv6-unspecified-trims-to-the-prefix"),
        pytest.param("pfx", "::1", "pfx---1", id="ipv6-leading-double-colon"),
        pytest.param("pfx", "FD00:0::0001", "pfx-fd00--1", id="named-after-canonical-text"),
        pytest.param("pfx", "::ffff:102:304", "pfx-1-2-3-4", id="ipv4-mapped-named-dotted"),
        pytest.param("pfx-", "fd00::", "pfx--fd00", id="prefix-ending-in-dash-kept-inside"),
        pytest.param("pfx--", "::", "pfx", id="every-trailing-dash-stripped"),
    ],
)
def test_object_names_follow_metal3(prefix: str, address: str, expected: str) -> None:
    assert names.address_object_name(prefix, address) == expected


def test_two_families_can_print_the_same_name() -> None:
    assert names.address_object_name("a", "1.2.3.4") == names.address_object_name("a", "1:2:3:4::")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("10.0.0.1", "ipam-address.ns.10-0-0-1", id="ipv4-dashed"),
        pytest.param(
            "fd00::1", "ipam-address.ns.fd00-0000-0000-0000-0000-0000-0000-0001", id="ipv6-groups"
        ),
        pytest.param(
            "FD00:0::0001",
            "ipam-address.ns.fd00-0000-0000-0000-0000-0000-0000-0001",
            id="any-spelling-one-name",
        ),
        pytest.param("::ffff:a00:1", "ipam-address.ns.10-0-0-1", id="ipv4-mapped"),
    ],
)
def test_an_address_lock_is_named_for_namespace_and_address(address: str, expected: str) -> None:
    assert names.address_lock_name("ns", address) == expected


def test_addresses_that_print_alike_in_object_names_get_locks_of_their_own() -> None:
    """``::1`` and ``1::`` are both cut to ``1`` at the edges of a label; locks never are."""
    locks = {names.address_lock_name("ns", a) for a in ("::1", "1::", "::", "1.2.3.4")}
    assert len(locks) == 4
    assert all(names.is_object_name(lock) for lock in locks)


def test_a_lock_name_fits_an_object_name_for_the_longest_namespace() -> None:
    assert names.is_object_name(names.address_lock_name("n" * 63, "fd00::1"))


def pool_map(**specs: dict[str, Any]) -> dict[str, pools.Pool]:
    return {name: pools.Pool.from_spec(spec) for name, spec in specs.items()}


@pytest.mark.parametrize(
    ("prefixes", "expected"),
    [
        pytest.param({"p1": "same", "p2": "same"}, [("p1", "p2")], id="identical-prefixes"),
        pytest.param({"p1": "a", "p2": "a-1"}, [("p1", "p2")], id="prefix-plus-address-chars"),
        pytest.param({"p1": "a-1", "p2": "a"}, [("p1", "p2")], id="order-does-not-matter"),
        pytest.param({"p1": "a", "p2": "a-f0--"}, [("p1", "p2")], id="hex-and-dashes"),
        pytest.param({"p1": "cluster", "p2": "cluster-prov"}, [], id="non-hex-suffix-is-safe"),
        pytest.param({"p1": "a", "p2": "ab"}, [], id="no-dash-is-safe"),
        pytest.param({"p1": "a", "p2": "b"}, [], id="different"),
        pytest.param({"p1": "pool", "p2": "pool-1"}, [("p1", "p2")], id="non-hex-prefix-plus-hex"),
        pytest.param(
            {"p1": "x", "p2": "x", "p3": "x"},
            [("p1", "p2"), ("p1", "p3"), ("p2", "p3")],
            id="every-pair",
        ),
    ],
)
def test_prefix_collisions_find_pools_that_could_share_a_name(
    prefixes: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    found = names.prefix_collisions(pool_map(**{n: {"namePrefix": p} for n, p in prefixes.items()}))
    assert found == expected


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        pytest.param([{"subnet": "10.0.0.0/24"}], [{"subnet": "10.0.1.0/24"}], False, id="apart"),
        pytest.param(
            [{"start": "10.0.0.1", "end": "10.0.0.9"}],
            [{"start": "10.0.0.10", "end": "10.0.0.20"}],
            False,
            id="adjacent-is-not-overlapping",
        ),
        pytest.param(
            [{"subnet": "10.0.0.0/24"}],
            [{"start": "10.0.0.255"}],
            True,
            id="broadcast-shared",
        ),
        pytest.param(
            [{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}],
            [{"start": "fd00::ffff", "end": "fd00::1:0"}],
            True,
            id="second-entry-overlaps",
        ),
        pytest.param([{"end": "10.0.0.9"}], [{"subnet": "10.0.0.0/24"}], False, id="empty-entry"),
        pytest.param(
            [{"start": "10.0.0.5", "end": "10.0.0.9"}],
            [{"start": "10.0.0.1", "end": "10.0.0.5"}],
            True,
            id="touching-at-one-address",
        ),
        pytest.param(
            [{"start": "10.0.0.20", "end": "10.0.0.21"}],
            [{"start": "10.0.0.1", "end": "10.0.0.2"}],
            False,
            id="second-pool-entirely-below",
        ),
        pytest.param(
            [
                {"start": "10.0.0.1", "end": "10.0.0.2"},
                {"start": "10.0.0.20", "end": "10.0.0.21"},
                {"start": "10.0.0.40", "end": "10.0.0.40"},
            ],
            [
                {"start": "10.0.0.10", "end": "10.0.0.11"},
                {"start": "10.0.0.30", "end": "10.0.0.31"},
                {"start": "10.0.0.40", "end": "10.0.0.41"},
            ],
            True,
            id="interleaved-regions-meet-at-the-last",
        ),
        pytest.param(
            [{"start": "10.0.0.40", "end": "10.0.0.40"}],
            [
                {"start": "10.0.0.1", "end": "10.0.0.2"},
                {"start": "10.0.0.40", "end": "10.0.0.40"},
                {"start": "10.0.0.50", "end": "10.0.0.50"},
            ],
            True,
            id="met-at-the-second-region-of-the-other",
        ),
    ],
)
def test_overlapping_pools_share_an_address(
    first: list[dict[str, str]], second: list[dict[str, str]], overlap: bool
) -> None:
    found = names.overlapping_pools(pool_map(a={"pools": first}, b={"pools": second}))
    assert found == ([("a", "b")] if overlap else [])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("pool-a", True, id="plain"),
        pytest.param("edge.v6", True, id="dotted"),
        pytest.param("a" * 253, True, id="longest"),
        pytest.param("a" * 254, False, id="too-long"),
        pytest.param("pool/../../x", False, id="slash-would-change-the-api-path"),
        pytest.param("Upper Case", False, id="upper-case-and-space"),
        pytest.param("-pool", False, id="leading-dash"),
        pytest.param("pool-", False, id="trailing-dash"),
        pytest.param("pool..a", False, id="empty-label"),
        pytest.param("..", False, id="dot-dot"),
        pytest.param("", False, id="empty"),
    ],
)
def test_only_a_lowercase_subdomain_can_name_an_object(name: str, expected: bool) -> None:
    assert names.is_object_name(name) is expected


def test_a_trailing_dash_is_stripped_and_nothing_else() -> None:
    assert names.address_object_name("X", "::") == "X"
    assert names.address_object_name("pool-X", "10.0.0.1") == "pool-X-10-0-0-1"


def test_a_lock_for_text_that_is_no_address_still_names_a_label() -> None:
    assert names.address_lock_name("ns", "not:an.ip") == "ipam-address.ns.not-an-ip"


@pytest.mark.parametrize(
    ("name", "address"), [("p-fd00-1", "fd00:1::"), ("p-fd00", "fd00::"), ("p-1-2-3-4", "1.2.3.4")]
)
def test_a_name_ending_in_a_stripped_double_colon_finds_its_address(
    name: str, address: str
) -> None:
    assert names.address_of_name("p", name) == address
