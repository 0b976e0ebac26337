"""Admission rules: every field error at once, and a webhook that agrees with the allocator."""

from __future__ import annotations

from typing import Any

import pytest

from ipam.core import errors, pools, validation

VALID = {
    "namePrefix": "pool1-prov",
    "pools": [{"start": "192.168.0.10", "end": "192.168.0.50", "subnet": "192.168.0.0/24"}],
    "prefix": 24,
    "gateway": "192.168.0.1",
    "dnsServers": ["8.8.8.8"],
    "preAllocations": {"machine-0": "192.168.0.20"},
    "allocationStrategy": "sequential",
}


def spec_with(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def entry(**fields: Any) -> dict[str, Any]:
    return spec_with(pools=[fields], preAllocations={})


def v6_entry(**fields: Any) -> dict[str, Any]:
    """An IPv6 entry, in a spec whose defaults suit IPv6 (VALID's are IPv4)."""
    return spec_with(pools=[fields], preAllocations={}, gateway="fd00::1", prefix=64)


def paths(found: list[errors.FieldError]) -> list[str]:
    return [error.path for error in found]


def test_a_valid_pool_has_no_errors() -> None:
    assert validation.validate_pool(VALID) == []


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"namePrefix": "p"}, id="only-the-name-prefix"),
        pytest.param(
            spec_with(
                allocationStrategy="random",
                pools=[{"start": "fd00::"}],
                preAllocations={},
                gateway="fd00::1",
            ),
            id="random-on-an-unbounded-entry",
        ),
        pytest.param(v6_entry(subnet="fd00::/64"), id="random-or-not-ipv6-slash-64"),
        pytest.param(entry(subnet="10.0.0.0/24", end="10.0.0.9"), id="subnet-with-end"),
        pytest.param(entry(start="10.0.0.9", end="10.0.0.9"), id="single-address"),
        pytest.param(spec_with(namePrefix="a.b-c-"), id="name-prefix-with-dots-and-dash"),
        pytest.param(spec_with(allocationStrategy=""), id="empty-strategy-is-defaulted"),
        pytest.param(spec_with(prefix=0), id="zero-prefix"),
        pytest.param(v6_entry(subnet="fd00::/64", prefix=128), id="ipv6-prefix"),
        pytest.param(
            spec_with(
                prefix=64, pools=[{"subnet": "10.0.0.0/24", "prefix": 24}], preAllocations={}
            ),
            id="spec-prefix-beyond-ipv4-when-every-ipv4-entry-has-its-own",
        ),
        pytest.param(
            spec_with(
                pools=[{"subnet": "10.0.0.0/24"}, {"subnet": "fd00::/64", "gateway": "fd00::1"}],
                preAllocations={},
            ),
            id="spec-gateway-inherited-only-by-its-family",
        ),
        pytest.param(
            spec_with(
                dnsServers=["fd00::53"],
                pools=[{"subnet": "10.0.0.0/24", "dnsServers": ["fd00::53", "8.8.8.8"]}],
                preAllocations={},
            ),
            id="dns-servers-of-any-family",
        ),
        pytest.param(entry(subnet="10.0.0.17/24"), id="host-bits-in-a-subnet"),
        pytest.param(entry(start="10.0.0.250", subnet="10.0.0.0/24"), id="start-and-subnet"),
        pytest.param(entry(start="255.255.255.0"), id="start-only"),
        pytest.param(entry(start="::ffff:a00:1", end="10.0.0.9"), id="ipv4-mapped-start-is-ipv4"),
        pytest.param(entry(subnet="10.0.0.2/31"), id="slash-31-without-start-gives-one"),
    ],
)
def test_pools_that_must_be_accepted(spec: dict[str, Any]) -> None:
    assert validation.validate_pool(spec) == []


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        pytest.param(spec_with(namePrefix=""), "spec.namePrefix", "required", id="no-prefix"),
        pytest.param(
            spec_with(namePrefix="Pool"), "spec.namePrefix", "object names", id="upper-case"
        ),
        pytest.param(
            spec_with(namePrefix="-pool"), "spec.namePrefix", "object names", id="leading-dash"
        ),
        pytest.param(
            spec_with(namePrefix="pool."), "spec.namePrefix", "object names", id="trailing-dot"
        ),
        pytest.param(
            spec_with(namePrefix="a_b"), "spec.namePrefix", "object names", id="underscore"
        ),
        pytest.param(
            spec_with(namePrefix="a" * 214), "spec.namePrefix", "at most 213", id="too-long"
        ),
        pytest.param(
            spec_with(allocationStrategy="lowest"),
            "spec.allocationStrategy",
            "one of",
            id="unknown-strategy",
        ),
        pytest.param(spec_with(gateway="10.0.0.256"), "spec.gateway", "not a valid IP", id="gw"),
        pytest.param(
            spec_with(dnsServers=["8.8.8.8", "dns"]),
            "spec.dnsServers[1]",
            "not a valid IP",
            id="dns",
        ),
        pytest.param(spec_with(prefix="24"), "spec.prefix", "integer", id="prefix-not-int"),
        pytest.param(
            spec_with(pools="10.0.0.0/24", preAllocations={}),
            "spec.pools",
            "must be a list",
            id="pools-not-list",
        ),
        pytest.param(entry(), "spec.pools[0]", "at least one of", id="entry-with-no-bounds"),
        pytest.param(entry(prefix=24), "spec.pools[0]", "at least one of", id="only-a-prefix"),
        pytest.param(entry(start="10.0.0.1.1"), "spec.pools[0].start", "not a valid IP", id="s"),
        pytest.param(
            entry(start="10.0.0.1", end="x"), "spec.pools[0].end", "not a valid IP", id="end"
        ),
        pytest.param(entry(subnet="10.0.0.0/33"), "spec.pools[0].subnet", "CIDR", id="bad-subnet"),
        pytest.param(
            entry(subnet="10.0.0.0/24", gateway="gw"),
            "spec.pools[0].gateway",
            "not a valid IP",
            id="entry-gateway",
        ),
        pytest.param(
            entry(subnet="10.0.0.0/24", dnsServers=["1.1.1.1", "x"]),
            "spec.pools[0].dnsServers[1]",
            "not a valid IP",
            id="entry-dns",
        ),
        pytest.param(
            spec_with(pools=["10.0.0.0/24"], preAllocations={}),
            "spec.pools[0]",
            "object",
            id="entry-not-object",
        ),
        pytest.param(
            spec_with(preAllocations={"m": "10.0.0.300"}),
            "spec.preAllocations[m]",
            "not a valid IP",
            id="pre-allocation-not-an-ip",
        ),
        pytest.param(
            spec_with(preAllocations={"m": "192.168.0.60"}),
            "spec.preAllocations[m]",
            "is out of bounds of the pools given",
            id="pre-allocation-outside",
        ),
        pytest.param(
            spec_with(preAllocations={"a": "192.168.0.20", "b": "192.168.0.20"}),
            "spec.preAllocations[b]",
            "already pre-allocated to claim a",
            id="duplicate-pre-allocation",
        ),
        pytest.param(
            spec_with(
                pools=[{"subnet": "fd00::/64"}],
                gateway=None,
                preAllocations={"a": "fd00::5", "b": "FD00:0::0005"},
            ),
            "spec.preAllocations[b]",
            "already pre-allocated to claim a",
            id="duplicate-pre-allocation-compared-by-value",
        ),
        pytest.param(
            spec_with(preAllocations=["a"]), "spec.preAllocations", "map", id="pre-alloc-not-map"
        ),
    ],
)
def test_pool_rules(spec: dict[str, Any], path: str, words: str) -> None:
    found = validation.validate_pool(spec)
    assert [error.path for error in found] == [path], found
    assert words in found[0].message


def test_bounds_is_spelled_bounds_not_bonds() -> None:
    found = validation.validate_pool(spec_with(preAllocations={"m": "10.9.9.9"}))
    assert "bonds" not in found[0].message
    assert found[0].message.endswith("is out of bounds of the pools given")


def test_every_problem_is_reported_at_once() -> None:
    spec = {
        "namePrefix": "Bad",
        "gateway": "x",
        "pools": [{"end": "10.0.0.1"}, {"start": "10.0.0.9", "end": "10.0.0.1"}],
        "preAllocations": {"m": "10.1.1.1"},
    }
    assert paths(validation.validate_pool(spec)) == [
        "spec.namePrefix",
        "spec.gateway",
        "spec.pools[0]",
        "spec.pools[1].end",
        "spec.preAllocations[m]",
    ]


def test_a_spec_that_is_not_an_object_is_one_error() -> None:
    assert paths(validation.validate_pool("nope")) == ["spec"]  # type: ignore[arg-type]


# -- the webhook and the allocator agree ------------------------------------------------------


@pytest.mark.parametrize(
    ("entry_fields", "address"),
    [
        pytest.param({"subnet": "10.0.0.0/24", "end": "10.0.0.9"}, "10.0.0.200", id="subnet-end"),
        pytest.param({"subnet": "10.0.0.0/24", "end": "10.0.0.9"}, "10.0.0.0", id="network"),
        pytest.param({"subnet": "10.0.0.0/24"}, "10.0.0.255", id="broadcast"),
        pytest.param(
            {"start": "10.0.0.250", "end": "10.0.1.9", "subnet": "10.0.0.0/24"},
            "10.0.1.5",
            id="end-beyond-subnet",
        ),
        pytest.param({"start": "10.0.0.9", "end": "10.0.0.19"}, "10.0.0.19", id="inclusive-end"),
        pytest.param({"start": "10.0.0.9"}, "255.255.255.255", id="start-only"),
        pytest.param({"start": "fd00::"}, "ffff::1", id="start-only-ipv6"),
    ],
)
def test_validation_accepts_a_pre_allocation_exactly_when_the_allocator_can_give_it(
    entry_fields: dict[str, str], address: str
) -> None:
    spec = spec_with(pools=[entry_fields], preAllocations={"m": address})
    accepted = validation.validate_pool(spec) == []
    assert accepted == pools.Pool.from_spec(spec).contains(address)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            spec_with(prefix=33),
            [
                errors.FieldError(
                    "spec.pools[0]",
                    "has no prefix of its own and inherits spec.prefix 33, longer than 32, "
                    "the longest IPv4 prefix",
                ),
                errors.FieldError(
                    "spec.preAllocations[machine-0]",
                    "192.168.0.20 is out of bounds of the pools given",
                ),
            ],
            id="spec-prefix-33-drops-the-ipv4-entry-and-its-pre-allocation-with-it",
        ),
        pytest.param(
            spec_with(prefix=129, preAllocations={}),
            [
                errors.FieldError("spec.prefix", "129 is not between 0 and 128"),
                errors.FieldError(
                    "spec.pools[0]",
                    "has no prefix of its own and inherits spec.prefix 129, which is not "
                    "between 0 and 128",
                ),
            ],
            id="spec-prefix-129",
        ),
        pytest.param(
            spec_with(gateway="fd00::1", preAllocations={}),
            [
                errors.FieldError(
                    "spec.pools[0]",
                    "has no gateway of its own and inherits spec.gateway fd00::1, "
                    "which is of the other IP family",
                )
            ],
            id="spec-gateway-of-the-other-family",
        ),
    ],
)
def test_spec_defaults_that_do_not_fit_an_entry_are_reported_on_the_entry(
    spec: dict[str, Any], expected: list[errors.FieldError]
) -> None:
    assert validation.validate_pool(spec) == expected


def test_every_problem_of_every_entry_is_reported_as_the_pool_finds_it() -> None:
    spec = spec_with(
        preAllocations={},
        pools=[
            {"start": "10.0.0.1", "end": "fd00::1"},
            {"start": "10.0.0.9", "end": "10.0.0.1", "prefix": 40},
            {"subnet": "10.0.1.0/24", "gateway": "fd00::1", "dnsServers": ["x"]},
            {"subnet": "10.0.2.0/24"},
            "nope",
        ],
    )
    reported = validation.validate_pool(spec)
    assert reported == list(pools.Pool.from_spec(spec).problems)
    assert {error.path.split(".")[1] for error in reported} == {
        "pools[0]",
        "pools[1]",
        "pools[2]",
        "pools[4]",
    }


@pytest.mark.parametrize(
    "bad_entry",
    [
        pytest.param({"start": "10.0.0.1", "end": "fd00::1"}, id="mixed-families"),
        pytest.param({"start": "10.0.0.1", "end": "10.0.1.1", "subnet": "10.0.0.0/24"}, id="out"),
        pytest.param({"subnet": "10.0.0.0/24", "prefix": 33}, id="prefix-33"),
        pytest.param({"subnet": "10.0.0.0/24", "gateway": "fd00::1"}, id="gateway-family"),
    ],
)
def test_a_new_entry_rule_the_old_spec_broke_does_not_block_an_edit(
    bad_entry: dict[str, Any],
) -> None:
    old = spec_with(pools=[bad_entry, *VALID["pools"]])
    edited = {**old, "dnsServers": ["1.1.1.1"]}
    alone = paths(validation.validate_pool(edited))
    assert alone
    assert all(path.startswith("spec.pools[0]") for path in alone)
    assert validation.validate_pool(edited, old_spec=old) == []


# -- update rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        pytest.param({"namePrefix": "other"}, "spec.namePrefix", "cannot be modified", id="prefix"),
        pytest.param(
            {"allocationStrategy": "random"},
            "spec.allocationStrategy",
            "cannot be modified after creation",
            id="strategy",
        ),
    ],
)
def test_immutable_pool_fields(changes: dict[str, Any], path: str, message: str) -> None:
    found = validation.validate_pool(spec_with(**changes), old_spec=VALID)
    assert found == [errors.FieldError(path, message)]


def test_an_empty_strategy_is_the_same_as_sequential_on_update() -> None:
    old = {k: v for k, v in VALID.items() if k != "allocationStrategy"}
    assert validation.validate_pool(VALID, old_spec=old) == []


def test_addresses_in_use_must_stay_inside_the_new_entries() -> None:
    shrunk = spec_with(pools=[{"start": "192.168.0.10", "end": "192.168.0.30"}])
    old_status = {"indexes": {"machine-0": "192.168.0.20", "machine-1": "192.168.0.40"}}
    found = validation.validate_pool(shrunk, old_spec=VALID, old_status=old_status)
    assert found == [
        errors.FieldError(
            "spec.pools",
            "192.168.0.40 of claim machine-1 is in use but is out of bounds of the pools given",
        )
    ]


def test_a_problem_of_a_new_rule_the_old_spec_had_does_not_block_an_edit() -> None:
    old = spec_with(pools=[{"end": "10.0.0.9"}, *VALID["pools"]])
    edited = {**old, "gateway": "192.168.0.254"}
    assert validation.validate_pool(edited, old_spec=old) == []
    assert paths(validation.validate_pool(edited)) == ["spec.pools[0]"]


def test_an_upstream_rule_is_enforced_on_update_even_if_the_old_spec_broke_it() -> None:
    old = spec_with(pools=[{"start": "10.0.0.9", "end": "10.0.0.1"}], preAllocations={})
    assert paths(validation.validate_pool(old, old_spec=old)) == ["spec.pools[0].end"]


# -- IPClaim ----------------------------------------------------------------------------------


def claim(pool: dict[str, Any] | None = None, annotation: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "c"}
    if annotation is not None:
        metadata["annotations"] = {"ipAddress": annotation}
    return {"metadata": metadata, "spec": {"pool": {"name": "pool1"} if pool is None else pool}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(claim(), [], id="valid"),
        pytest.param(claim(annotation="10.0.0.5"), [], id="valid-annotation"),
        pytest.param(claim(annotation=""), [], id="empty-annotation-ignored"),
        pytest.param(claim(pool={}), ["spec.pool.name"], id="no-pool-name"),
        pytest.param(
            claim(annotation="10.0.0.500"), ["metadata.annotations[ipAddress]"], id="bad-ip"
        ),
        pytest.param(
            claim(pool={"name": ""}, annotation="x"),
            ["spec.pool.name", "metadata.annotations[ipAddress]"],
            id="both-at-once",
        ),
        pytest.param({}, ["spec.pool.name"], id="empty-object"),
    ],
)
def test_claim_rules(obj: dict[str, Any], expected: list[str]) -> None:
    assert paths(validation.validate_claim(obj)) == expected


@pytest.mark.parametrize(
    ("new_pool", "expected"),
    [
        pytest.param({"name": "pool1"}, [], id="unchanged"),
        pytest.param({"name": "pool2"}, ["spec.pool.name"], id="name"),
        pytest.param({"name": "pool1", "namespace": "x"}, ["spec.pool.namespace"], id="namespace"),
        pytest.param({"name": "pool1", "kind": "IPPool"}, ["spec.pool.kind"], id="kind"),
        pytest.param({"name": "pool1", "apiVersion": "v9"}, [], id="other-fields-may-change"),
    ],
)
def test_claim_pool_reference_cannot_be_modified(
    new_pool: dict[str, Any], expected: list[str]
) -> None:
    found = validation.validate_claim(claim(pool=new_pool), old=claim())
    assert paths(found) == expected
    assert all(error.message == "cannot be modified" for error in found)


def test_a_claim_annotation_is_revalidated_on_update() -> None:
    found = validation.validate_claim(claim(annotation="nope"), old=claim())
    assert paths(found) == ["metadata.annotations[ipAddress]"]


# -- IPAddress --------------------------------------------------------------------------------


def address(**spec: Any) -> dict[str, Any]:
    base = {
        "address": "10.0.0.5",
        "pool": {"name": "pool1"},
        "claim": {"name": "c"},
        "prefix": 24,
        "gateway": "10.0.0.1",
        "dnsServers": ["8.8.8.8"],
    }
    return {"metadata": {"name": "pool1-10-0-0-5"}, "spec": {**base, **spec}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(address(), [], id="valid"),
        pytest.param(address(address=""), ["spec.address"], id="no-address"),
        pytest.param(address(address="10.0.0.05"), ["spec.address"], id="bad-address"),
        pytest.param(address(pool={}), ["spec.pool.name"], id="no-pool"),
        pytest.param(address(claim={"name": ""}), ["spec.claim.name"], id="no-claim"),
        pytest.param(address(prefix=200), ["spec.prefix"], id="prefix"),
        pytest.param(address(gateway="gw"), ["spec.gateway"], id="gateway"),
        pytest.param(address(dnsServers=["x"]), ["spec.dnsServers[0]"], id="dns"),
        pytest.param(
            {**address(), "metadata": {"annotations": {"ipAddress": "bad"}}},
            ["metadata.annotations[ipAddress]"],
            id="annotation",
        ),
        pytest.param(
            {"spec": {}}, ["spec.pool.name", "spec.claim.name", "spec.address"], id="all-missing"
        ),
    ],
)
def test_address_rules(obj: dict[str, Any], expected: list[str]) -> None:
    assert paths(validation.validate_address(obj)) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="unchanged"),
        pytest.param({"address": "10.0.0.6"}, ["spec.address"], id="address"),
        pytest.param({"pool": {"name": "pool2"}}, ["spec.pool.name"], id="pool-name"),
        pytest.param(
            {"pool": {"name": "pool1", "namespace": "n"}}, ["spec.pool.namespace"], id="pool-ns"
        ),
        pytest.param({"claim": {"name": "d"}}, ["spec.claim.name"], id="claim-name"),
        pytest.param(
            {"claim": {"name": "c", "kind": "IPClaim"}}, ["spec.claim.kind"], id="claim-kind"
        ),
        pytest.param(
            {"prefix": 16, "gateway": "10.0.0.254", "dnsServers": []},
            [],
            id="prefix-gateway-dns-may-change",
        ),
    ],
)
def test_address_identity_cannot_be_modified(changes: dict[str, Any], expected: list[str]) -> None:
    found = validation.validate_address(address(**changes), old=address())
    assert paths(found) == expected
    assert all(error.message == "cannot be modified" for error in found)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"namePrefix": ""}, ("spec.namePrefix", "is required"), id="no-prefix"),
        pytest.param(
            {"namePrefix": "Bad_Prefix"},
            (
                "spec.namePrefix",
                "'Bad_Prefix' cannot start valid object names: use lower-case letters, digits, "
                "'-' and '.', starting with a letter or digit",
            ),
            id="bad-characters",
        ),
        pytest.param(
            {"dnsServers": "8.8.8.8"},
            ("spec.dnsServers", "must be a list of IP addresses"),
            id="dns-not-a-list",
        ),
        pytest.param({"prefix": "24"}, ("spec.prefix", "must be an integer"), id="prefix-text"),
    ],
)
def test_each_pool_field_error_has_its_exact_path_and_message(
    changes: dict[str, Any], expected: tuple[str, str]
) -> None:
    found = validation.validate_pool(spec_with(**changes))
    assert [(e.path, e.message) for e in found] == [expected]


def test_the_longest_name_prefix_is_accepted_and_one_more_character_is_not() -> None:
    longest = "p" * validation.NAME_PREFIX_MAX
    assert validation.validate_pool(spec_with(namePrefix=longest)) == []
    assert paths(validation.validate_pool(spec_with(namePrefix=longest + "p"))) == [
        "spec.namePrefix"
    ]


def test_a_prefix_above_128_is_named_first_then_what_follows_from_it() -> None:
    found = validation.validate_pool(spec_with(prefix=129))
    assert (found[0].path, found[0].message) == ("spec.prefix", "129 is not between 0 and 128")


def test_a_prefix_of_128_is_accepted_for_an_ipv6_pool() -> None:
    assert validation.validate_pool(v6_entry(subnet="fd00::/64") | {"prefix": 128}) == []


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"namePrefix": "Bad_Prefix"}, "spec.namePrefix", id="bad-characters"),
        pytest.param(
            {"namePrefix": "p" * (validation.NAME_PREFIX_MAX + 1)}, "spec.namePrefix", id="too-long"
        ),
        pytest.param({"prefix": -1}, "spec.prefix", id="negative-prefix"),
    ],
)
def test_an_update_keeps_an_own_rule_problem_the_pool_already_had(
    changes: dict[str, Any], path: str
) -> None:
    old = spec_with(**changes)
    assert path in paths(validation.validate_pool(old))
    assert path not in paths(validation.validate_pool(old, old_spec=old))


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"namePrefix": ""}, "spec.namePrefix", id="no-prefix"),
        pytest.param({"prefix": 129}, "spec.prefix", id="prefix-above-128"),
        pytest.param({"dnsServers": "8.8.8.8"}, "spec.dnsServers", id="dns-not-a-list"),
    ],
)
def test_an_update_still_refuses_what_metal3_refuses(changes: dict[str, Any], path: str) -> None:
    old = spec_with(**changes)
    assert path in paths(validation.validate_pool(old, old_spec=old))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("nope", ("spec", "must be an object"), id="spec-not-an-object"),
        pytest.param(
            spec_with(allocationStrategy="roundrobin"),
            ("spec.allocationStrategy", "must be one of sequential, random"),
            id="unknown-strategy",
        ),
        pytest.param(spec_with(pools="x"), ("spec.pools", "must be a list"), id="pools-not-a-list"),
        pytest.param(
            spec_with(preAllocations=["x"]),
            ("spec.preAllocations", "must map claim names to IP addresses"),
            id="pre-allocations-not-a-map",
        ),
    ],
)
def test_a_malformed_pool_gets_its_exact_message(spec: Any, expected: tuple[str, str]) -> None:
    assert [(e.path, e.message) for e in validation.validate_pool(spec)][:1] == [expected]


def test_an_update_that_brings_a_new_own_rule_problem_is_refused() -> None:
    found = validation.validate_pool(spec_with(namePrefix="Bad_Prefix"), old_spec=VALID)
    assert "spec.namePrefix" in paths(found)


def test_an_update_keeping_the_random_strategy_is_no_change() -> None:
    random_pool = spec_with(allocationStrategy="random")
    assert validation.validate_pool(random_pool, old_spec=random_pool) == []


def test_every_pre_allocation_is_judged_after_one_that_is_not_an_ip_or_repeats_one() -> None:
    found = validation.validate_pool(
        spec_with(
            preAllocations={
                "a": "junk",
                "b": "192.168.0.20",
                "c": "192.168.0.20",
                "d": "10.9.9.9",
            }
        )
    )
    assert paths(found) == [
        "spec.preAllocations[a]",
        "spec.preAllocations[c]",
        "spec.preAllocations[d]",
    ]


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        pytest.param(VALID, {"indexes": ["machine-0"]}, id="indexes-not-a-map"),
        pytest.param("nope", {"indexes": {"machine-0": "192.168.0.20"}}, id="spec-not-a-map"),
    ],
)
def test_a_malformed_old_status_or_spec_is_no_reason_to_fail(spec: Any, status: Any) -> None:
    found = validation.validate_pool(spec, old_status=status)
    assert "spec.pools" not in paths(found)


def test_an_empty_claim_pool_name_and_empty_address_fields_say_so() -> None:
    claim = validation.validate_claim({"spec": {"pool": {"name": ""}}})
    assert [(e.path, e.message) for e in claim] == [("spec.pool.name", "cannot be empty")]
    found = validation.validate_address({"spec": {}})
    assert [(e.path, e.message) for e in found] == [
        ("spec.pool.name", "cannot be empty"),
        ("spec.claim.name", "cannot be empty"),
        ("spec.address", "cannot be empty"),
    ]


def test_an_empty_gateway_is_no_gateway() -> None:
    assert validation.validate_pool(spec_with(gateway="")) == []
