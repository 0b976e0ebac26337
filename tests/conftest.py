"""Tests' conftest: loads the Hypothesis profile that IPAM_HYPOTHESIS_PROFILE selects."""

from tests import hypothesis_budget  # noqa: F401  (registers and loads the profile)
