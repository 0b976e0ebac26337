"""``make conformance``: collect the cases of this folder (see e2e/conformance/plugin.py)."""

from e2e.conformance.plugin import (
    conformance_environment,
    pytest_collect_file,
    pytest_collection_modifyitems,
    pytest_terminal_summary,
)

__all__ = [
    "conformance_environment",
    "pytest_collect_file",
    "pytest_collection_modifyitems",
    "pytest_terminal_summary",
]
