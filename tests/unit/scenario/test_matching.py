"""Partial matching, JSONPath, templating and the diff: the pure pieces a failure message is made of."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.scenario import diff, jsonpath, matching, templating

POD = {
    "metadata": {"name": "a", "labels": {"app": "x", "cluster.x-k8s.io/cluster-name": "c1"}},
    "spec": {"pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}], "prefix": 24},
    "status": {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "Paused", "status": "False"},
        ]
    },
}


@pytest.mark.parametrize(
    ("expected", "mismatch"),
    [
        pytest.param({"metadata": {"name": "a"}}, None, id="a subset matches"),
        pytest.param({"spec": {"prefix": 24, "gateway": None}}, None, id="null matches missing"),
        pytest.param({"spec": {"prefix": 16}}, (".spec.prefix", 16, 24), id="a different scalar"),
        pytest.param(
            {"spec": {"gateway": "10.0.0.254"}},
            (".spec.gateway", "10.0.0.254", matching.MISSING),
            id="a missing key",
        ),
        pytest.param(
            {"spec": {"pools": [{"start": "10.0.0.2"}]}},
            (".spec.pools[0].start", "10.0.0.2", "10.0.0.1"),
            id="inside a list",
        ),
        pytest.param(
            {"status": {"conditions": [{"type": "Ready"}]}},
            (".status.conditions (length)", 1, 2),
            id="lists must have the same length",
        ),
        pytest.param(
            {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "c2"}}},
            (".metadata.labels['cluster.x-k8s.io/cluster-name']", "c2", "c1"),
            id="keys with dots are quoted",
        ),
        pytest.param({"spec": "x"}, (".spec", "x", POD["spec"]), id="scalar against mapping"),
        pytest.param({"spec": {"prefix": "24"}}, (".spec.prefix", "24", 24), id="no coercion"),
    ],
)
def test_first_mismatch_names_the_path_and_both_values(
    expected: dict[str, Any], mismatch: tuple[str, Any, Any] | None
) -> None:
    assert matching.first_mismatch(expected, POD) == mismatch


def test_projection_keeps_only_what_the_expectation_mentions() -> None:
    expected = {"metadata": {"name": "b"}, "spec": {"pools": [{"start": "x"}]}}

    assert matching.project(POD, expected) == {
        "metadata": {"name": "a"},
        "spec": {"pools": [{"start": "10.0.0.1"}]},
    }


def test_the_diff_shows_expected_beside_found() -> None:
    text = diff.unified({"spec": {"prefix": 16}}, {"spec": {"prefix": 24}})

    assert "--- expected\n+++ found\n" in text
    assert "-  prefix: 16\n+  prefix: 24\n" in text
    assert diff.unified({"a": 1}, {"a": 1}) == ""
    assert "(not found)" in diff.unified({"a": 1}, None)


@pytest.mark.parametrize(
    ("path", "values"),
    [
        pytest.param(".metadata.name", ["a"], id="dotted"),
        pytest.param("{.metadata.name}", ["a"], id="kubectl braces"),
        pytest.param("$.spec.prefix", [24], id="dollar root"),
        pytest.param(".metadata.labels['cluster.x-k8s.io/cluster-name']", ["c1"], id="quoted key"),
        pytest.param(".spec.pools[0].end", ["10.0.0.9"], id="index"),
        pytest.param(".spec.pools[-1].start", ["10.0.0.1"], id="negative index"),
        pytest.param(".status.conditions[*].type", ["Ready", "Paused"], id="star"),
        pytest.param('.status.conditions[?(@.type=="Ready")].status', ["True"], id="filter"),
        pytest.param(".status.conditions[?(@.type!='Ready')].type", ["Paused"], id="not equal"),
        pytest.param(".spec.gateway", [], id="nothing there"),
        pytest.param(".spec.pools[3]", [], id="index out of range"),
    ],
)
def test_jsonpath_selects_what_kubectl_would(path: str, values: list[Any]) -> None:
    assert jsonpath.select(POD, path) == values


@pytest.mark.parametrize("path", [".a..b", ".a[?(@.x ~ 1)]", ".a[", ".a b"])
def test_jsonpath_refuses_what_it_cannot_read(path: str) -> None:
    with pytest.raises(jsonpath.PathError, match="cannot read"):
        jsonpath.parse(path)


def test_templating_replaces_placeholders_in_strings_only() -> None:
    body: dict[str, Any] = {
        "metadata": {"name": "claim-{{ i }}", "namespace": "{{namespace}}"},
        "spec": {"count": 3, "items": ["{{ suffix }}-x", True]},
        "{{ i }}": "keys stay",
    }

    rendered = templating.render(body, {"i": 7, "namespace": "ns", "suffix": "abc"})

    assert rendered == {
        "metadata": {"name": "claim-7", "namespace": "ns"},
        "spec": {"count": 3, "items": ["abc-x", True]},
        "{{ i }}": "keys stay",
    }
    assert body["metadata"]["name"] == "claim-{{ i }}"


def test_placeholders_are_listed_with_their_key_paths() -> None:
    found = list(templating.placeholders({"a": [{"b": "{{ x }} and {{ y }}"}], "c": 1}))

    assert found == [("a[0].b", "x"), ("a[0].b", "y")]
