"""``{{ name }}`` in any string of a step becomes the run's value; nothing else is templated.

The variables are ``namespace`` (the test's namespace; ``namespace2`` ... when the
scenario asks for more), ``suffix`` (unique per run), those an earlier ``capture`` step
defined and, inside a ``generate`` template only, ``i`` (the copy's number). Keys and
non-string values are left alone; an unknown variable is a format error found when the
file is loaded. Rendering makes text, except where a value is compared
(:func:`render_value`): there ``"{{ used }}"`` alone is the captured number itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
RUN_VARIABLES = frozenset({"namespace", "suffix"})
"""Defined in every run; ``namespace2`` ... exist when the scenario asks for them."""


def render(value: Any, variables: Mapping[str, object]) -> Any:
    """A deep copy of ``value`` with every placeholder in its strings replaced."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), value)
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
    return value


def render_value(
    value: Any, variables: Mapping[str, object], *, typed: Mapping[str, object]
) -> Any:
    """As :func:`render`, but a string that is exactly one placeholder of a ``typed``
    variable becomes that variable's value, type and all (a captured ``4`` stays ``4``)."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole and whole.group(1) in typed:
            return typed[whole.group(1)]
        return render(value, variables)
    if isinstance(value, dict):
        return {key: render_value(item, variables, typed=typed) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, variables, typed=typed) for item in value]
    return value


def placeholders(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (key path, variable name) used in the strings of ``value``."""
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            yield path, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from placeholders(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from placeholders(item, f"{path}[{number}]")
