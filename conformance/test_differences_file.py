"""The differences file holds no entry that no longer explains anything (run after every case)."""

from e2e.conformance.plugin import entries_for_every_case_still_hold


def test_entries_for_every_case_still_hold() -> None:
    entries_for_every_case_still_hold()
