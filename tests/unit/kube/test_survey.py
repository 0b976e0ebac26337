"""Reading what the command line shows from raw bodies: conditions, claim errors, the namespace."""

from __future__ import annotations

from pathlib import Path

import yaml

from ipam.kube import bodies, resources, scope, survey


def test_conditions_are_read_and_malformed_entries_skipped() -> None:
    status = {
        "conditions": [
            {"type": "Ready", "status": "False", "reason": "PoolExhausted", "message": "m"},
            "garbage",
            {"type": "Overlap", "status": "True", "reason": 3},
        ]
    }
    assert survey.conditions(status) == (
        survey.Condition("Ready", "False", "PoolExhausted", "m"),
        survey.Condition("Overlap", "True", "", ""),
    )
    assert survey.conditions({"conditions": "nope"}) == ()


def test_a_claim_error_is_metal3s_message_or_capis_ready_condition() -> None:
    metal3 = bodies.claim_record(
        resources.METAL3,
        {"metadata": {"name": "a"}, "status": {"errorMessage": "Exhausted IP Pools"}},
    )
    capi = bodies.claim_record(
        resources.CAPI,
        {
            "metadata": {"name": "b"},
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "PoolExhausted",
                        "message": "full",
                    }
                ]
            },
        },
    )
    bound = bodies.claim_record(resources.CAPI, {"metadata": {"name": "c"}})
    assert [survey.claim_error(c) for c in (metal3, capi, bound)] == [
        "Exhausted IP Pools",
        "full",
        "",
    ]


def kubeconfig(tmp_path: Path, namespace: str | None) -> str:
    context: dict[str, str] = {"cluster": "c", "user": "u"}
    if namespace:
        context["namespace"] = namespace
    path = tmp_path / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": context}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def test_the_default_namespace_is_the_current_contexts_else_default(tmp_path: Path) -> None:
    assert scope.current_namespace(kubeconfig(tmp_path, "demo")) == "demo"
    assert scope.current_namespace(kubeconfig(tmp_path, None)) == "default"
    broken = tmp_path / "broken"
    broken.write_text("{{{")
    assert scope.current_namespace(str(broken)) == "default"
