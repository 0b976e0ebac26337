"""Hypothesis budgets: each property keeps its own example count unless a run selects a profile.

`IPAM_HYPOTHESIS_PROFILE=mutation` (set by `make mutation` only) runs every property on a few
derandomized examples, so that a mutant gets the same verdict on every run and the whole
mutation run stays within hours on two cores.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("IPAM_HYPOTHESIS_PROFILE", "default")

settings.register_profile(
    "mutation",
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """The example count of a property: its own, capped by the selected profile's."""
    if PROFILE == "default":
        return count
    return min(count, settings.default.max_examples)
