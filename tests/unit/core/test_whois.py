"""Who holds an address, and what a claim holds, across both claim kinds."""

from __future__ import annotations

from ipam.core import pools, whois

POOL = pools.Pool.from_spec(
    {
        "namePrefix": "edge",
        "pools": [{"start": "10.0.0.10", "end": "10.0.0.19"}, {"subnet": "fd00::/64"}],
        "preAllocations": {"gw-claim": "10.0.0.15"},
    }
)
NAMED = [whois.NamedPool("demo", "edge", POOL)]
HELD = [
    whois.Held(
        "demo", "edge", "10.0.0.10", "metal3", "web-0", "edge-10-0-0-10", "2025-01-01T00:00:00Z"
    ),
    whois.Held("demo", "edge", "fd00::1", "capi", "web-0", "edge-fd00--1", "2025-01-02T00:00:00Z"),
    whois.Held(
        "other", "edge", "10.0.0.10", "metal3", "db-0", "edge-10-0-0-10", "2025-01-03T00:00:00Z"
    ),
]
CLAIMS = [
    whois.Claim("demo", "metal3", "web-0", "edge", ""),
    whois.Claim("demo", "capi", "web-0", "edge", ""),
    whois.Claim("demo", "metal3", "late", "edge", "Exhausted IP Pools"),
]


def test_an_address_is_found_by_value_in_any_spelling() -> None:
    answer = whois.lookup("fd00:0::0:1", HELD, CLAIMS, NAMED)
    assert answer.address == "fd00::1"
    assert [(h.claim_ref, h.object_name) for h in answer.held] == [
        ("IPAddressClaim/web-0", "edge-fd00--1")
    ]
    assert answer.found


def test_one_address_in_two_namespaces_lists_both_holders() -> None:
    answer = whois.lookup("10.0.0.10", HELD, CLAIMS, NAMED)
    assert [(h.namespace, h.claim) for h in answer.held] == [("demo", "web-0"), ("other", "db-0")]


def test_a_free_address_names_the_pool_that_produces_it_and_its_pre_allocation() -> None:
    free = whois.lookup("10.0.0.11", HELD, CLAIMS, NAMED)
    assert not free.found
    assert free.producers == (whois.Producer("demo", "edge", ()),)
    reserved = whois.lookup("10.0.0.15", HELD, CLAIMS, NAMED)
    assert reserved.producers == (whois.Producer("demo", "edge", ("gw-claim",)),)


def test_an_address_no_pool_produces_finds_nothing() -> None:
    answer = whois.lookup("192.168.1.1", HELD, CLAIMS, NAMED)
    assert (answer.held, answer.producers, answer.found) == ((), (), False)


def test_a_claim_name_finds_the_addresses_of_both_kinds() -> None:
    answer = whois.lookup("web-0", HELD, CLAIMS, NAMED)
    assert answer.address is None
    assert [(h.claim_ref, h.address) for h in answer.held] == [
        ("IPClaim/web-0", "10.0.0.10"),
        ("IPAddressClaim/web-0", "fd00::1"),
    ]
    assert answer.idle_claims == ()


def test_a_claim_that_holds_nothing_is_reported_with_its_error() -> None:
    answer = whois.lookup("late", HELD, CLAIMS, NAMED)
    assert answer.found
    assert answer.held == ()
    assert [(c.ref, c.error) for c in answer.idle_claims] == [
        ("IPClaim/late", "Exhausted IP Pools")
    ]


def test_an_unknown_name_is_not_found() -> None:
    assert not whois.lookup("nobody", HELD, CLAIMS, NAMED).found


def test_every_answer_repeats_the_query_as_typed() -> None:
    for query in ("fd00:0::0:1", "web-0"):
        assert whois.lookup(query, HELD, CLAIMS, NAMED).query == query


def test_an_address_answer_lists_no_claims_and_a_claim_answer_no_producers() -> None:
    assert whois.lookup("10.0.0.10", HELD, CLAIMS, NAMED).claims == ()
    assert whois.lookup("web-0", HELD, CLAIMS, NAMED).producers == ()


def test_overlapping_pools_producing_an_address_are_listed_by_namespace_then_name() -> None:
    named = [
        whois.NamedPool("zeta", "a", POOL),
        whois.NamedPool("demo", "z", POOL),
        whois.NamedPool("demo", "b", POOL),
    ]
    answer = whois.lookup("10.0.0.11", HELD, CLAIMS, named)
    assert [(p.namespace, p.name) for p in answer.producers] == [
        ("demo", "b"),
        ("demo", "z"),
        ("zeta", "a"),
    ]


def test_claims_of_one_name_list_by_namespace_the_ipclaim_first() -> None:
    claims = [
        whois.Claim("zeta", "metal3", "web-0", "edge", ""),
        whois.Claim("demo", "capi", "web-0", "edge", ""),
        whois.Claim("demo", "metal3", "web-0", "edge", ""),
    ]
    answer = whois.lookup("web-0", HELD, claims, NAMED)
    assert [c.ref for c in answer.claims] == [
        "IPClaim/web-0",
        "IPAddressClaim/web-0",
        "IPClaim/web-0",
    ]
    assert [c.namespace for c in answer.claims] == ["demo", "demo", "zeta"]
