"""The alert rules of the README use only metrics and labels that the controller exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ipam.handlers.metrics import Metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def exported() -> dict[str, set[str]]:
    """Every series name of the exposition, with its label names (one sample of each)."""
    metrics = Metrics()
    metrics.set_pool("ns", "pool", total=10, used=4, free=6)
    metrics.allocations.labels("metal3").inc()
    metrics.releases.labels("metal3").inc()
    metrics.allocation_errors.labels("metal3", "PoolExhausted").inc()
    metrics.allocation_seconds.labels("metal3").observe(0.1)
    metrics.api_errors.labels("ippools").inc()
    metrics.name_clashes.labels("metal3").inc()
    series: dict[str, set[str]] = {}
    for line in metrics.exposition().decode().splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? ", line)
        if match:
            labels = set(re.findall(r"([a-z_]+)=", match.group(2) or ""))
            series.setdefault(match.group(1), set()).update(labels)
    return series


def rules() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    (block,) = [b for b in blocks if b.startswith("groups:")]
    return [rule for group in yaml.safe_load(block)["groups"] for rule in group["rules"]]


def test_the_readme_has_alert_rules() -> None:
    assert len(rules()) >= 5


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_each_rule_uses_exported_metrics_and_their_labels(rule: dict[str, Any]) -> None:
    series = exported()
    used = set(re.findall(r"\b(ipam_[a-z_]+)\b", rule["expr"]))
    assert used, rule["expr"]
    assert used <= set(series), used - set(series)
    labels = set().union(*(series[name] for name in used))
    for clause in re.findall(r"by \(([^)]*)\)", rule["expr"]):
        grouped = {label.strip() for label in clause.split(",")}
        assert grouped <= labels, grouped - labels
    for templated in re.findall(r"\$labels\.([a-z_]+)", yaml.safe_dump(rule["annotations"])):
        assert templated in labels, templated
