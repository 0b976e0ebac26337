"""Expected beside found, as a unified diff of YAML: the one way failures show data."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

NOT_FOUND = "(not found)"


def to_yaml(value: Any) -> str:
    if value is None:
        return f"{NOT_FOUND}\n"
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=100)


def unified(expected: Any, found: Any, *, context: int = 3) -> str:
    """``--- expected`` / ``+++ found`` lines; empty when the two dump the same."""
    lines = difflib.unified_diff(
        to_yaml(expected).splitlines(keepends=True),
        to_yaml(found).splitlines(keepends=True),
        fromfile="expected",
        tofile="found",
        n=context,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
