"""Root conftest: the harness fixtures and the YAML scenario collector."""

pytest_plugins = ["e2e.pytest_plugin", "e2e.scenario.plugin", "e2e.node_fixtures"]
