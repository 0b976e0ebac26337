"""YAML scenarios: one file, one pytest item; steps on real clusters, then invariants."""
