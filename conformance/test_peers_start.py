"""The peer helpers of e2e/peers.py: each peer's CRDs install and each peer starts and serves.

Upstream Metal3 IPAM is built by ``make conformance`` itself; CAPM3 and the in-cluster
provider only by ``make peers``, and their tests say so when they are not built yet.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from e2e import peers
from e2e.conformance.plugin import Environment


def _built(name: str) -> peers.Peer:
    peer = peers.built_peer(name)
    if peer is None:
        pytest.skip(f"{name} is not built: run `make peers` first")
    return peer


def _runs(process: peers.PeerProcess) -> None:
    try:
        process.start()
        time.sleep(2)
        assert process.running, process.log_tail()
        assert "Starting workers" in process.log_tail(1_000_000), process.log_tail()
    finally:
        process.stop()


def test_upstream_metal3_ipam_starts_on_the_projects_crds(
    conformance_environment: Environment, tmp_path: Path
) -> None:
    env = conformance_environment
    assert len(peers.metal3_ipam_crds(env.upstream)) == 3
    _runs(peers.metal3_ipam(env.plane, tmp_path, namespace="peers-start", peer=env.upstream))


def test_capm3_starts_with_its_crds_and_the_baremetalhost_crds(
    conformance_environment: Environment, tmp_path: Path
) -> None:
    peer = _built(peers.CAPM3)
    crds = peers.capm3_crds(peer) + peers.baremetalhost_crds(peer)
    assert all(
        doc["metadata"]["labels"]["cluster.x-k8s.io/v1beta2"] == "v1beta2"
        for doc in crds
        if doc["spec"]["group"] == "infrastructure.cluster.x-k8s.io"
    )
    peers.install_crds(conformance_environment.plane, crds)
    _runs(peers.capm3(conformance_environment.plane, tmp_path, watch_filter="m3", peer=peer))


def test_the_incluster_provider_starts_with_its_crds(
    conformance_environment: Environment, tmp_path: Path
) -> None:
    peer = _built(peers.INCLUSTER)
    peers.install_crds(conformance_environment.plane, peers.incluster_crds(peer))
    _runs(
        peers.incluster(conformance_environment.plane, tmp_path, namespace="peers-start", peer=peer)
    )
