"""The intended differences: one file lists each with its reason; anything else is a failure.

Each entry of ``conformance/differences.yaml``::

    - id: short-name                  # unique
      reason: why we differ on purpose (required)
      cases: [case, ...]              # default: every case ("*")
      object: IPClaim/*               # Kind/name, ``*`` matches any run of characters, or a list
      path: .status.errorMessage      # same wildcard, or a list; "" is the whole object
      upstream: VALUE                 # optional: what upstream must show
      ours: VALUE                     # optional: what we must show
      gap: true                       # optional: not intended, a compatibility bug of ours

``VALUE`` is a literal (compared after normalisation; ``<absent>`` for "not there",
``<present>`` for "there, any value") or ``{matches: REGEX}`` (searched in the value's
text). An observed difference is *explained* by an entry whose cases, object and path
match and whose values hold; if entries match it but none holds, the first is *broken*. An entry
that explains nothing in the cases it names is *stale*. Undeclared, broken and stale
all fail ``make conformance``: the file stays the exact list of where we differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from e2e.conformance.compare import ABSENT, Difference

PRESENT = "<present>"
_ENTRY_KEYS = {"id", "reason", "cases", "object", "path", "upstream", "ours", "gap"}
_UNSET = object()


class DifferencesFormatError(ValueError):
    """The differences file is malformed; the message names the entry and the key."""


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


@dataclass(frozen=True)
class Entry:
    id: str
    reason: str
    cases: tuple[str, ...]
    objects: tuple[str, ...]
    paths: tuple[str, ...]
    upstream: Any = _UNSET
    ours: Any = _UNSET
    gap: bool = False

    @property
    def every_case(self) -> bool:
        return "*" in self.cases

    def locates(self, difference: Difference) -> bool:
        """Whether this entry is about the case, object and path of ``difference``."""
        return (
            (self.every_case or difference.case in self.cases)
            and any(_glob(obj).match(difference.object) for obj in self.objects)
            and any(_glob(path).match(difference.path) for path in self.paths)
        )

    def mismatches(self, difference: Difference) -> list[str]:
        """What the entry says a side shows that the difference does not (empty: it holds)."""
        problems = []
        for side, wanted, found in (
            ("upstream", self.upstream, difference.upstream),
            ("ours", self.ours, difference.ours),
        ):
            if wanted is not _UNSET and not value_matches(wanted, found):
                problems.append(f"{side}: expected {_show(wanted)}, found {_show(found)}")
        return problems


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True)


def value_matches(wanted: Any, found: Any) -> bool:
    if wanted == PRESENT:
        return bool(found != ABSENT)
    if isinstance(wanted, dict) and set(wanted) == {"matches"}:
        if found == ABSENT:
            return False
        text = found if isinstance(found, str) else json.dumps(found, sort_keys=True)
        return re.search(str(wanted["matches"]), text) is not None
    return bool(wanted == found)


def _entry(number: int, raw: Any) -> Entry:
    where = f"entry {number}"
    if not isinstance(raw, dict):
        raise DifferencesFormatError(f"{where}: an entry is a mapping")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise DifferencesFormatError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("id", "reason"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise DifferencesFormatError(f"{where}: '{key}' is required (a non-empty string)")
    objects = raw.get("object")
    if isinstance(objects, str):
        objects = [objects]
    if not isinstance(objects, list) or not objects or not all("/" in str(o) for o in objects):
        raise DifferencesFormatError(f"{where} ({raw['id']}): object is Kind/name, or a list")
    cases = raw.get("cases", ["*"])
    if isinstance(cases, str):
        cases = [cases]
    paths = raw.get("path", "")
    if isinstance(paths, str):
        paths = [paths]
    return Entry(
        id=raw["id"],
        reason=" ".join(raw["reason"].split()),
        cases=tuple(str(c) for c in cases),
        objects=tuple(str(o) for o in objects),
        paths=tuple(str(p) for p in paths),
        upstream=raw.get("upstream", _UNSET),
        ours=raw.get("ours", _UNSET),
        gap=bool(raw.get("gap", False)),
    )


def load(path: Path) -> list[Entry]:
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or not isinstance(raw.get("differences"), list):
        raise DifferencesFormatError(f"{path}: expected a mapping with a 'differences' list")
    entries = [_entry(n, e) for n, e in enumerate(raw["differences"], start=1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise DifferencesFormatError(f"{path}: id {entry.id!r} is used twice")
        seen.add(entry.id)
    return entries


@dataclass
class Verdict:
    """How a run's differences stand against the file."""

    undeclared: list[Difference]
    broken: list[tuple[Entry, Difference, list[str]]]
    used: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.undeclared and not self.broken


def judge(entries: Sequence[Entry], differences: Iterable[Difference]) -> Verdict:
    """Explain each difference by an entry that locates it and whose values hold.

    When entries locate a difference but none of them holds, the first one is *broken*;
    when none locates it, it is *undeclared*.
    """
    verdict = Verdict([], [], {entry.id: 0 for entry in entries})
    for difference in differences:
        located = [e for e in entries if e.locates(difference)]
        if not located:
            verdict.undeclared.append(difference)
            continue
        holding = next((e for e in located if not e.mismatches(difference)), None)
        if holding is not None:
            verdict.used[holding.id] += 1
        else:
            verdict.used[located[0].id] += 1
            verdict.broken.append((located[0], difference, located[0].mismatches(difference)))
    return verdict


def stale(entries: Sequence[Entry], used: dict[str, int], cases_run: Iterable[str]) -> list[Entry]:
    """Entries that name only cases among ``cases_run`` and explained nothing there.

    Entries for every case are judged only by the caller that ran every case.
    """
    ran = set(cases_run)
    return [
        entry
        for entry in entries
        if not entry.every_case and set(entry.cases) <= ran and used.get(entry.id, 0) == 0
    ]
