"""Pools: Metal3's enumeration of entries, inheritance of details, and never raising."""

from __future__ import annotations

from typing import Any

import netaddr
import pytest

from ipam.core import addresses, errors, pools


def bounds(entry: dict[str, Any]) -> tuple[str, str] | None:
    found = pools.entry_bounds(entry)
    if found is None:
        return None
    return addresses.text_of(found[0]), addresses.text_of(found[1])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            {"start": "10.0.0.10", "end": "10.0.0.20"},
            ("10.0.0.10", "10.0.0.20"),
            id="start-end-inclusive",
        ),
        pytest.param(
            {"start": "10.0.0.10", "end": "10.0.0.20", "subnet": "10.0.0.0/24"},
            ("10.0.0.10", "10.0.0.20"),
            id="start-end-inside-subnet",
        ),
        pytest.param(
            {"start": "10.0.0.250", "end": "10.0.1.20", "subnet": "10.0.0.0/24"},
            ("10.0.0.250", "10.0.0.255"),
            id="start-end-walk-stops-leaving-the-subnet",
        ),
        pytest.param(
            {"start": "10.0.1.5", "end": "10.0.1.20", "subnet": "10.0.0.0/24"},
            None,
            id="start-end-with-start-outside-subnet-gives-nothing",
        ),
        pytest.param(
            {"start": "10.0.0.100", "subnet": "10.0.0.0/24"},
            ("10.0.0.100", "10.0.0.255"),
            id="start-subnet-runs-to-broadcast-included",
        ),
        pytest.param(
            {"start": "10.0.1.1", "subnet": "10.0.0.0/24"},
            None,
            id="start-subnet-with-start-outside-gives-nothing",
        ),
        pytest.param(
            {"start": "255.255.255.250"},
            ("255.255.255.250", "255.255.255.255"),
            id="start-only-ipv4-runs-to-all-ones",
        ),
        pytest.param(
            {"start": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0"},
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            id="start-only-ipv6-runs-to-all-ones",
        ),
        pytest.param(
            {"subnet": "10.0.0.0/24"},
            ("10.0.0.1", "10.0.0.255"),
            id="subnet-only-network-plus-one-to-broadcast",
        ),
        pytest.param(
            {"subnet": "10.0.0.0/24", "end": "10.0.0.20"},
            ("10.0.0.1", "10.0.0.255"),
            id="subnet-with-end-ignores-end",
        ),
        pytest.param(
            {"subnet": "fd00::/64"},
            ("fd00::1", "fd00::ffff:ffff:ffff:ffff"),
            id="subnet-only-ipv6",
        ),
        pytest.param({"subnet": "10.0.0.7/32"}, None, id="subnet-only-slash-32-gives-nothing"),
        pytest.param(
            {"subnet": "10.0.0.6/31"}, ("10.0.0.7", "10.0.0.7"), id="subnet-only-slash-31-one"
        ),
        pytest.param({"end": "10.0.0.20"}, None, id="end-only-gives-nothing"),
        pytest.param({}, None, id="nothing-gives-nothing"),
        pytest.param({"start": "10.0.0.20", "end": "10.0.0.10"}, None, id="start-after-end"),
        pytest.param({"start": "10.0.0.300"}, None, id="unparsable-start"),
        pytest.param({"start": "10.0.0.1", "end": "x"}, None, id="unparsable-end"),
        pytest.param({"subnet": "10.0.0.0/40"}, None, id="unparsable-subnet"),
        pytest.param({"start": "", "subnet": "10.0.0.0/30"}, ("10.0.0.1", "10.0.0.3"), id="empty"),
    ],
)
def test_entries_enumerate_like_metal3(
    entry: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    assert bounds(entry) == expected


def test_total_counts_each_address_once_across_overlapping_entries() -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [
                {"start": "10.0.0.1", "end": "10.0.0.10"},
                {"start": "10.0.0.5", "end": "10.0.0.14"},
                {"subnet": "10.0.1.0/30"},
            ]
        }
    )
    assert pool.total == 14 + 3


@pytest.mark.parametrize(
    ("spec", "total"),
    [
        pytest.param({"pools": [{"subnet": "fd00::/64"}]}, 2**64 - 1, id="ipv6-slash-64"),
        pytest.param({"pools": [{"start": "::"}]}, 2**128, id="all-of-ipv6"),
        pytest.param({"pools": [{"subnet": "10.0.0.0/8"}]}, 2**24 - 1, id="ipv4-slash-8"),
        pytest.param({}, 0, id="no-entries"),
    ],
)
def test_total_is_exact_for_any_size(spec: dict[str, Any], total: int) -> None:
    assert pools.Pool.from_spec(spec).total == total


def test_an_address_belongs_to_the_first_entry_producing_it() -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [
                {"start": "10.0.0.5", "end": "10.0.0.9", "prefix": 28},
                {"subnet": "10.0.0.0/24", "prefix": 24},
            ]
        }
    )
    assert [pool.details_for(f"10.0.0.{i}").prefix for i in (4, 5, 9, 10)] == [24, 28, 28, 24]


SPEC_DEFAULTS = {"prefix": 16, "gateway": "10.0.0.1", "dnsServers": ["8.8.8.8"]}


@pytest.mark.parametrize(
    ("spec_level", "entry_level", "expected"),
    [
        pytest.param(
            SPEC_DEFAULTS,
            {"prefix": 24, "gateway": "10.0.0.254", "dnsServers": ["1.1.1.1"]},
            (24, "10.0.0.254", ("1.1.1.1",)),
            id="entry-values-win",
        ),
        pytest.param(SPEC_DEFAULTS, {}, (16, "10.0.0.1", ("8.8.8.8",)), id="spec-values-inherited"),
        pytest.param(
            SPEC_DEFAULTS,
            {"prefix": 0, "dnsServers": []},
            (16, "10.0.0.1", ("8.8.8.8",)),
            id="zero-prefix-and-empty-dns-mean-unset",
        ),
        pytest.param({}, {}, (0, None, ()), id="nothing-set-gives-zero-prefix-no-gateway"),
        pytest.param({"gateway": "010.0.0.1"}, {}, (0, None, ()), id="a-gateway-that-is-no-ip"),
    ],
)
def test_details_are_inherited_entry_first_then_spec(
    spec_level: dict[str, Any], entry_level: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    spec = {**spec_level, "pools": [{"subnet": "10.0.0.0/24", **entry_level}]}
    details = pools.Pool.from_spec(spec).details_for("10.0.0.7")
    assert details is not None
    assert (details.prefix, details.gateway, details.dns_servers) == expected


def test_prefix_is_never_derived_from_the_subnet() -> None:
    details = pools.Pool.from_spec({"pools": [{"subnet": "10.0.0.0/24"}]}).details_for("10.0.0.9")
    assert details == pools.AddressDetails("10.0.0.9", 0, None, ())


def test_details_for_an_address_outside_every_entry_is_none() -> None:
    pool = pools.Pool.from_spec({"pools": [{"subnet": "10.0.0.0/24"}]})
    assert pool.details_for("10.0.0.0") is None
    assert pool.details_for("10.0.1.1") is None
    assert pool.details_for("garbage") is None


def test_details_carry_the_canonical_address() -> None:
    pool = pools.Pool.from_spec({"pools": [{"subnet": "fd00::/120"}]})
    details = pool.details_for("FD00:0::00A")
    assert details is not None
    assert details.address == "fd00::a"


@pytest.mark.parametrize(
    ("ip", "inside"),
    [
        pytest.param("10.0.0.1", True, id="text-inside"),
        pytest.param("10.0.0.0", False, id="network-address-outside"),
        pytest.param("10.0.0.255", True, id="broadcast-inside"),
        pytest.param(netaddr.IPAddress("10.0.0.9"), True, id="netaddr-inside"),
        pytest.param("fd00::1", False, id="other-family"),
        pytest.param("not-an-ip", False, id="garbage"),
    ],
)
def test_contains_is_arithmetic_membership(ip: str | netaddr.IPAddress, inside: bool) -> None:
    pool = pools.Pool.from_spec({"pools": [{"subnet": "10.0.0.0/24"}]})
    assert pool.contains(ip) is inside


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(None, id="none"),
        pytest.param("spec", id="string"),
        pytest.param({"pools": "10.0.0.0/24"}, id="pools-not-a-list"),
        pytest.param({"pools": [None, 5, "x", []]}, id="entries-not-objects"),
        pytest.param({"pools": [{"start": 5, "end": ["x"], "subnet": {}}]}, id="fields-wrong-type"),
        pytest.param({"prefix": "24", "gateway": 7, "dnsServers": "8.8.8.8"}, id="defaults-bad"),
        pytest.param({"preAllocations": ["a"]}, id="pre-allocations-not-a-map"),
        pytest.param({"preAllocations": {"a": None, 5: "10.0.0.1"}}, id="pre-allocations-bad"),
        pytest.param({"namePrefix": 5, "allocationStrategy": ["random"]}, id="scalars-bad"),
    ],
)
def test_from_spec_never_raises_on_malformed_input(spec: Any) -> None:
    pool = pools.Pool.from_spec(spec)
    assert pool.total == 0
    assert isinstance(pool.name_prefix, str)
    assert pool.strategy == "sequential"


def test_a_gateway_is_copied_as_written() -> None:
    pool = pools.Pool.from_spec({"gateway": "FD00::1", "pools": [{"subnet": "fd00::/64"}]})
    details = pool.details_for("fd00::7")
    assert details is not None
    assert details.gateway == "FD00::1"


def test_a_boolean_prefix_is_not_a_prefix() -> None:
    pool = pools.Pool.from_spec({"prefix": 8, "pools": [{"subnet": "10.0.0.0/30", "prefix": True}]})
    assert pool.details_for("10.0.0.1") is None
    assert pool.problems == (errors.FieldError("spec.pools[0].prefix", "must be an integer"),)


# -- dropped entries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_entry",
    [
        pytest.param({"start": "10.0.0.1", "end": "fd00::1"}, id="ipv4-start-ipv6-end"),
        pytest.param({"start": "10.0.0.9", "end": "10.0.0.1"}, id="start-after-end"),
        pytest.param({"start": "10.0.0.250", "end": "10.0.1.9", "subnet": "10.0.0.0/24"}, id="out"),
        pytest.param({"subnet": "10.0.0.0/24", "prefix": 33}, id="ipv4-prefix-33"),
        pytest.param({"subnet": "10.0.0.0/24", "gateway": "fd00::1"}, id="gateway-other-family"),
        pytest.param({"subnet": "10.0.0.0/24", "dnsServers": ["dns"]}, id="dns-not-an-ip"),
        pytest.param({"end": "10.0.0.9"}, id="end-only"),
    ],
)
def test_an_entry_with_a_problem_produces_nothing_and_says_why(bad_entry: dict[str, Any]) -> None:
    good = {"start": "10.0.9.1", "end": "10.0.9.2", "prefix": 24}
    pool = pools.Pool.from_spec({"pools": [bad_entry, good]})
    dropped, kept = pool.entries
    assert (dropped.first, dropped.last, dropped.size) == (None, None, 0)
    assert dropped.dropped
    assert dropped.problems
    assert all(problem.path.startswith("spec.pools[0]") for problem in dropped.problems)
    assert pool.dropped == (dropped,)
    assert pool.problems == dropped.problems
    assert not kept.dropped
    assert list(pool.regions()) == [(addresses.key_of("10.0.9.1"), addresses.key_of("10.0.9.2"))]
    assert pool.total == 2
    assert not pool.invalid


def test_a_mixed_family_entry_no_longer_spans_both_families() -> None:
    pool = pools.Pool.from_spec({"pools": [{"start": "10.0.0.1", "end": "fd00::1"}]})
    assert pool.total == 0
    assert not pool.contains("10.0.0.2")
    assert not pool.contains("::1")


def test_prefix_33_is_never_given_to_an_ipv4_address() -> None:
    pool = pools.Pool.from_spec(
        {"prefix": 33, "pools": [{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64"}]}
    )
    assert pool.details_for("10.0.0.1") is None
    details = pool.details_for("fd00::1")
    assert details is not None
    assert details.prefix == 33


@pytest.mark.parametrize(
    ("spec", "invalid"),
    [
        pytest.param({"pools": [{"end": "10.0.0.1"}, {"start": "x"}]}, True, id="every-entry-bad"),
        pytest.param({"pools": [{"end": "10.0.0.1"}, {"start": "10.0.0.1"}]}, False, id="one-good"),
        pytest.param({"pools": []}, False, id="no-entries-is-empty-not-invalid"),
        pytest.param({}, False, id="no-pools-field"),
    ],
)
def test_a_pool_is_invalid_when_it_has_entries_and_drops_them_all(
    spec: dict[str, Any], invalid: bool
) -> None:
    assert pools.Pool.from_spec(spec).invalid is invalid


def test_a_valid_entry_keeps_exactly_the_bounds_of_its_walk() -> None:
    raw = {"start": "10.0.0.250", "subnet": "10.0.0.0/24"}
    (entry,) = pools.Pool.from_spec({"pools": [raw]}).entries
    assert (entry.first, entry.last) == pools.entry_bounds(raw)


def test_malformed_entries_produce_no_addresses_but_keep_their_place() -> None:
    pool = pools.Pool.from_spec(
        {"pools": [{"start": "nope"}, None, {"start": "10.0.0.1", "end": "10.0.0.2"}]}
    )
    assert [entry.index for entry in pool.entries] == [0, 1, 2]
    assert [entry.size for entry in pool.entries] == [0, 0, 2]
    details = pool.details_for("10.0.0.1")
    assert details is not None
    assert pool.entry_for_key(addresses.key_of("10.0.0.1") or 0) == pool.entries[2]


def test_pre_allocations_are_canonical_and_invalid_ones_set_aside() -> None:
    pool = pools.Pool.from_spec(
        {"preAllocations": {"a": "FD00::0005", "b": "10.0.0.1", "c": "10.0.0.300"}}
    )
    assert dict(pool.pre_allocations) == {"a": "fd00::5", "b": "10.0.0.1"}
    assert dict(pool.invalid_pre_allocations) == {"c": "10.0.0.300"}
    assert pool.reserved_for(addresses.key_of("fd00::5") or 0) == ("a",)
    assert addresses.key_of("10.0.0.1") in pool.reserved


@pytest.mark.parametrize(
    ("value", "strategy"),
    [
        pytest.param("random", "random", id="random"),
        pytest.param("sequential", "sequential", id="sequential"),
        pytest.param(None, "sequential", id="absent-defaults-to-sequential"),
        pytest.param("", "sequential", id="empty-defaults-to-sequential"),
        pytest.param("bogus", "sequential", id="unknown-falls-back-to-sequential"),
    ],
)
def test_strategy_defaults_to_sequential(value: Any, strategy: str) -> None:
    assert pools.Pool.from_spec({"allocationStrategy": value}).strategy == strategy


def test_name_prefix_is_read_as_written() -> None:
    assert pools.Pool.from_spec({"namePrefix": "pool1-prov"}).name_prefix == "pool1-prov"


def test_default_details_serve_addresses_outside_every_entry() -> None:
    pool = pools.Pool.from_spec({**SPEC_DEFAULTS, "pools": []})
    assert pool.default_details("10.9.9.9") == pools.AddressDetails(
        "10.9.9.9", 16, "10.0.0.1", ("8.8.8.8",)
    )


@pytest.mark.parametrize("value", [None, 5, ["a"]], ids=["absent", "number", "list"])
def test_a_name_prefix_that_is_not_text_is_no_prefix(value: Any) -> None:
    spec = {} if value is None else {"namePrefix": value}
    assert pools.Pool.from_spec(spec).name_prefix == ""


def test_default_details_carry_the_canonical_address_or_the_text_as_written() -> None:
    pool = pools.Pool.from_spec({**SPEC_DEFAULTS, "pools": []})
    assert pool.default_details("FD00::0005").address == "fd00::5"
    assert pool.default_details("not-an-ip").address == "not-an-ip"


def test_a_one_address_entry_produces_its_address_with_its_details() -> None:
    pool = pools.Pool.from_spec(
        {"pools": [{"start": "10.0.0.5", "end": "10.0.0.5", "gateway": "10.0.0.1"}]}
    )
    assert pool.total == 1
    details = pool.details_for("10.0.0.5")
    assert details is not None
    assert details.gateway == "10.0.0.1"


def test_an_entry_ending_where_an_earlier_one_ends_adds_its_own_last_address() -> None:
    pool = pools.Pool.from_spec(
        {
            "pools": [
                {"start": "10.0.0.1", "end": "10.0.0.4", "gateway": "10.0.0.100"},
                {"start": "10.0.0.1", "end": "10.0.0.5", "gateway": "10.0.0.200"},
            ]
        }
    )
    owners = {ip: pool.details_for(ip) for ip in ("10.0.0.4", "10.0.0.5")}
    assert {ip: d.gateway if d else None for ip, d in owners.items()} == {
        "10.0.0.4": "10.0.0.100",
        "10.0.0.5": "10.0.0.200",
    }


def test_a_one_address_entry_repeating_an_earlier_one_takes_nothing_from_it() -> None:
    # The first entry producing an address gives it its details, also when a later entry
    # produces exactly that one address again.
    pool = pools.Pool.from_spec(
        {
            "pools": [
                {"start": "10.0.0.5", "end": "10.0.0.5", "gateway": "10.0.0.100"},
                {"start": "10.0.0.6", "end": "10.0.0.9", "gateway": "10.0.0.100"},
                {"start": "10.0.0.5", "end": "10.0.0.5", "gateway": "10.0.0.200"},
            ]
        }
    )
    assert pool.entry_for_key(addresses.key_of("10.0.0.5") or 0) == pool.entries[0]
    details = pool.details_for("10.0.0.5")
    assert details is not None
    assert details.gateway == "10.0.0.100"


def test_a_pre_allocation_after_an_unreadable_one_is_still_read() -> None:
    pool = pools.Pool.from_spec(
        {"preAllocations": {"bad": "10.0.0.300", 7: "10.0.0.7", "good": "10.0.0.2"}}
    )
    assert dict(pool.pre_allocations) == {"good": "10.0.0.2"}
    assert dict(pool.invalid_pre_allocations) == {"bad": "10.0.0.300"}
    assert pool.reserved_for(addresses.key_of("10.0.0.2") or 0) == ("good",)
    assert addresses.key_of("10.0.0.7") not in pool.reserved


def test_a_pre_allocation_after_a_claim_name_that_is_not_text_is_still_read() -> None:
    pool = pools.Pool.from_spec({"preAllocations": {7: "10.0.0.7", "good": "10.0.0.2"}})
    assert dict(pool.pre_allocations) == {"good": "10.0.0.2"}
