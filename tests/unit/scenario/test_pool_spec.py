"""The checker's own reading of a pool spec, against Metal3's enumeration rules.

Each row is one rule of the table in ``e2e/scenario/pool_spec.py`` with the addresses just
inside and just outside it, so a reading that is off by one, ignores the subnet, stops at
the wrong place or mixes families fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e.scenario import pool_spec


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        pytest.param(
            {"start": "10.0.0.10", "end": "10.0.0.20"},
            ["10.0.0.10", "10.0.0.15", "10.0.0.20"],
            ["10.0.0.9", "10.0.0.21"],
            id="start and end are both included",
        ),
        pytest.param(
            {"start": "10.0.0.250", "end": "10.0.1.5", "subnet": "10.0.0.0/24"},
            ["10.0.0.250", "10.0.0.255"],
            ["10.0.1.0", "10.0.1.5", "10.0.0.249"],
            id="a subnet cuts start..end at its last address",
        ),
        pytest.param(
            {"start": "10.0.1.10", "end": "10.0.1.20", "subnet": "10.0.0.0/24"},
            [],
            ["10.0.1.10", "10.0.1.15", "10.0.0.1"],
            id="a start outside the subnet gives nothing",
        ),
        pytest.param(
            {"start": "10.0.0.200", "subnet": "10.0.0.0/24"},
            ["10.0.0.200", "10.0.0.255"],
            ["10.0.0.199", "10.0.1.0"],
            id="start and subnet run to the broadcast address, included",
        ),
        pytest.param(
            {"start": "255.255.255.250"},
            ["255.255.255.250", "255.255.255.255"],
            ["255.255.255.249", "::1"],
            id="start alone runs to the last address of its family",
        ),
        pytest.param(
            {"subnet": "192.168.10.0/29", "end": "192.168.10.2"},
            ["192.168.10.1", "192.168.10.7", "192.168.10.5"],
            ["192.168.10.0", "192.168.10.8"],
            id="a subnet alone starts at network + 1 and ignores end",
        ),
        pytest.param(
            {"subnet": "192.168.10.9/29"},
            ["192.168.10.9", "192.168.10.15"],
            ["192.168.10.8", "192.168.10.16"],
            id="host bits in the subnet mean its network",
        ),
        pytest.param(
            {"subnet": "10.9.9.9/32"},
            [],
            ["10.9.9.9"],
            id="a /32 subnet alone holds nothing",
        ),
        pytest.param({"end": "10.0.0.20"}, [], ["10.0.0.20", "10.0.0.1"], id="end alone"),
        pytest.param(
            {"start": "fd00::10", "end": "fd00::1:0"},
            ["fd00::10", "FD00:0:0:0:0:0:0:ffff", "fd00::1:0"],
            ["fd00::f", "fd00::1:1", "10.0.0.16"],
            id="IPv6 in any spelling",
        ),
        pytest.param(
            {"subnet": "fd00:1::/64"},
            ["fd00:1::1", "fd00:1::ffff:ffff:ffff:ffff"],
            ["fd00:1::", "fd00:1:0:1::"],
            id="an IPv6 /64 by bounds",
        ),
        pytest.param(
            {"start": "10.0.0.1", "end": "fd00::1"},
            [],
            ["10.0.0.1", "fd00::1"],
            id="mixed families hold nothing",
        ),
        pytest.param(
            {"start": "10.0.0.20", "end": "10.0.0.10"},
            [],
            ["10.0.0.15", "10.0.0.10", "10.0.0.20"],
            id="an end before the start holds nothing",
        ),
        pytest.param(
            {"start": "10.0.0.300", "end": "10.0.0.310"},
            [],
            ["10.0.0.1"],
            id="an address that does not parse holds nothing",
        ),
    ],
)
def test_an_entry_holds_exactly_what_the_enumeration_rules_say(
    entry: dict[str, Any], inside: list[str], outside: list[str]
) -> None:
    ranges = pool_spec.pool_ranges({"pools": [entry]})

    assert [ip for ip in inside if not pool_spec.contains(ranges, ip)] == []
    assert [ip for ip in outside if pool_spec.contains(ranges, ip)] == []


def test_a_pool_holds_the_union_of_its_entries() -> None:
    spec = {
        "pools": [
            {"start": "10.0.0.1", "end": "10.0.0.3"},
            {"subnet": "10.0.1.0/30"},
            {"end": "10.0.2.9"},
        ]
    }

    held = [ip for ip in (f"10.0.{c}.{d}" for c in range(3) for d in range(10))]

    assert [ip for ip in held if pool_spec.contains(pool_spec.pool_ranges(spec), ip)] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.1.1",
        "10.0.1.2",
        "10.0.1.3",
    ]


@pytest.mark.parametrize("spec", [{}, {"pools": None}, {"pools": ["junk", 3]}])
def test_a_spec_without_usable_entries_holds_nothing(spec: dict[str, Any]) -> None:
    assert pool_spec.pool_ranges(spec) == []
    assert not pool_spec.contains(pool_spec.pool_ranges(spec), "10.0.0.1")


@pytest.mark.parametrize("text", [None, "", "not-an-ip", 17, "10.0.0.1/24"])
def test_text_that_is_not_an_address_is_in_no_pool(text: object) -> None:
    ranges = pool_spec.pool_ranges({"pools": [{"start": "0.0.0.1"}]})

    assert not pool_spec.contains(ranges, text)
