"""Differential conformance: upstream Metal3 IPAM and this controller on identical inputs."""
