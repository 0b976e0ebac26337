"""``{{ name }}`` in any string of a step becomes the run's value; nothing else is templated.

The variables are ``namespace`` (the test's namespace), ``suffix`` (unique per run), those
an earlier ``capture`` step defined and, inside a ``generate`` template only, ``i`` (the
copy's number). Keys and non-string values are left alone; an unknown variable is a
format error found when the file is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
RUN_VARIABLES = frozenset({"namespace", "suffix"})


def render(value: Any, variables: Mapping[str, object]) -> Any:
    """A deep copy of ``value`` with every placeholder in its strings replaced."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), value)
    if isinstance(value, dict):
        return {key: render(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, variables) for item in value]
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
