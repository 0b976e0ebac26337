"""Tests' conftest: loads the Hypothesis profile that IPAM_HYPOTHESIS_PROFILE selects, and
starts every test with the core's parse caches empty."""

import pytest

from ipam.core import addresses
from tests import hypothesis_budget  # noqa: F401  (registers and loads the profile)


@pytest.fixture(autouse=True)
def _empty_parse_caches() -> None:
    """A test sees the parsers run, not answers cached by an earlier test (mutation testing
    runs each mutant in a fork of the process that ran every test once)."""
    for cached in (addresses._key_of_text, addresses.text_of, addresses._parse_subnet_text):
        cached.cache_clear()
