"""What a scenario's peer brings into a management cluster, read from a module source laid
out as the real ones are: CRDs labelled for clusterctl move, and an inventory entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from e2e import peers


def _crd(group: str, plural: str, kind: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "names": {"plural": plural, "kind": kind}},
    }


@pytest.fixture
def capm3(tmp_path: Path) -> peers.Peer:
    bases = tmp_path / "capm3" / "config" / "crd" / "bases"
    bases.mkdir(parents=True)
    group = "infrastructure.cluster.x-k8s.io"
    (bases / f"{group}_metal3datas.yaml").write_text(
        yaml.safe_dump(_crd(group, "metal3datas", "Metal3Data"))
    )
    bmo = tmp_path / "bmo" / "config" / "base" / "crds" / "bases"
    bmo.mkdir(parents=True)
    for plural, kind in (("baremetalhosts", "BareMetalHost"), ("hardwaredata", "HardwareData")):
        (bmo / f"metal3.io_{plural}.yaml").write_text(
            yaml.safe_dump(_crd("metal3.io", plural, kind))
        )
    return peers.Peer(
        name=peers.CAPM3,
        version="v1.13.2",
        directory=tmp_path / "cache",
        source=tmp_path / "capm3",
        extra={"BMO_SOURCE": str(tmp_path / "bmo")},
    )


def test_capm3_crds_carry_clusterctl_labels_and_hosts_move_by_kind(capm3: peers.Peer) -> None:
    docs = {d["metadata"]["name"]: d["metadata"]["labels"] for d in peers.management_crds(capm3)}

    assert docs["metal3datas.infrastructure.cluster.x-k8s.io"] == {
        "cluster.x-k8s.io/v1beta1": "v1beta1",
        "cluster.x-k8s.io/v1beta2": "v1beta2",
        "clusterctl.cluster.x-k8s.io": "",
        "cluster.x-k8s.io/provider": "infrastructure-metal3",
    }
    for name in ("baremetalhosts.metal3.io", "hardwaredata.metal3.io"):
        assert docs[name] == {
            "clusterctl.cluster.x-k8s.io": "",
            "clusterctl.cluster.x-k8s.io/move": "",
            "cluster.x-k8s.io/provider": "infrastructure-metal3",
        }


def test_the_inventory_entry_is_what_clusterctl_init_writes(capm3: peers.Peer) -> None:
    namespace, provider = peers.inventory_entry(capm3)

    assert namespace == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "capm3-system"},
    }
    assert provider["type"] == "InfrastructureProvider"
    assert provider["providerName"] == "metal3"
    assert provider["version"] == "v1.13.2"
    assert provider["metadata"]["name"] == "infrastructure-metal3"


def test_a_peer_that_is_not_built_says_to_run_make_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IPAM_PEERS_CACHE", str(tmp_path / "empty"))

    with pytest.raises(peers.PeerError, match=r"capm3 is not built: run `make peers`"):
        peers.built(peers.CAPM3)
