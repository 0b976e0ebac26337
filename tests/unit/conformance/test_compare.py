"""The comparison finds every differing value, and only those, with a readable path."""

from __future__ import annotations

from e2e.conformance.compare import ABSENT, Difference, diff_snapshots, diff_values


def test_equal_values_do_not_differ() -> None:
    value = {"spec": {"address": "10.0.0.1", "dnsServers": ["1.1.1.1"]}}
    assert diff_values(value, {"spec": {"address": "10.0.0.1", "dnsServers": ["1.1.1.1"]}}) == []


def test_mappings_are_entered_and_lists_compared_whole() -> None:
    upstream = {"spec": {"address": "10.0.0.1", "dnsServers": ["1.1.1.1"]}}
    ours = {"spec": {"address": "10.0.0.2", "dnsServers": ["1.1.1.1", "8.8.8.8"]}}
    assert diff_values(upstream, ours) == [
        (".spec.address", "10.0.0.1", "10.0.0.2"),
        (".spec.dnsServers", ["1.1.1.1"], ["1.1.1.1", "8.8.8.8"]),
    ]


def test_a_key_only_one_side_has_is_absent_on_the_other() -> None:
    assert diff_values({"status": {}}, {"status": {"total": 7}}) == [(".status.total", ABSENT, 7)]


def test_keys_with_dots_or_slashes_are_quoted_in_the_path() -> None:
    found = diff_values(
        {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "a"}}},
        {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "b"}}},
    )
    assert found == [(".metadata.labels['cluster.x-k8s.io/cluster-name']", "a", "b")]


def test_an_object_only_one_side_has_differs_as_a_whole() -> None:
    found = diff_snapshots(
        "case",
        "1. apply",
        {"IPClaim/a": {"spec": {}}},
        {"IPClaim/a": {"spec": {}}, "IPClaim/b": {}},
    )
    assert found == [Difference("case", "1. apply", "IPClaim/b", "", ABSENT, {})]
    assert (found[0].kind, found[0].name) == ("IPClaim", "b")
