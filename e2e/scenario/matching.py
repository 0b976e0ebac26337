"""Partial match: every field the expectation names must be there with that value.

Mappings match when each expected key matches (an expected ``null`` also matches a missing
key); lists match element by element and must have the same length; anything else must be
equal. The first difference is reported with its path, and the found object is *projected*
onto the expectation's shape so a diff of the two shows only what the author asked about.
"""

from __future__ import annotations

from typing import Any

MISSING = "<missing>"


def first_mismatch(expected: Any, found: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """``(path, expected, found)`` of the first difference, or None when ``found`` matches."""
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            return path or ".", expected, found
        for key, want in expected.items():
            here = f"{path}.{key}" if _plain(key) else f"{path}['{key}']"
            if key not in found:
                if want is None:
                    continue
                return here, want, MISSING
            miss = first_mismatch(want, found[key], here)
            if miss:
                return miss
        return None
    if isinstance(expected, list):
        if not isinstance(found, list):
            return path or ".", expected, found
        for number, (want, have) in enumerate(zip(expected, found, strict=False)):
            miss = first_mismatch(want, have, f"{path}[{number}]")
            if miss:
                return miss
        if len(expected) != len(found):
            return f"{path} (length)", len(expected), len(found)
        return None
    if expected != found:
        return path or ".", expected, found
    return None


def matches(expected: Any, found: Any) -> bool:
    return first_mismatch(expected, found) is None


def project(found: Any, expected: Any) -> Any:
    """``found`` cut down to the keys ``expected`` mentions (lists keep found's length)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        return {key: project(found[key], want) for key, want in expected.items() if key in found}
    if isinstance(expected, list) and isinstance(found, list):
        return [
            project(have, expected[n]) if n < len(expected) else have
            for n, have in enumerate(found)
        ]
    return found


def _plain(key: str) -> bool:
    return key.replace("_", "").replace("-", "").isalnum()
