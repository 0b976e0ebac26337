"""`clusterctl init --ipam metal3:<version>` installs this provider from a local repository.

The repository is what ``make release-manifests`` writes (``ipam-components.yaml`` and
``metadata.yaml`` under ``<dir>/ipam-metal3/<version>/``), named in a ``clusterctl.yaml``
by a ``file://`` URL; the real clusterctl of the toolchain installs it into the node's
control plane, the Pod runs from the image built here and allocates.

Offline, two things clusterctl fetches from the internet are given locally: the core
provider's ``metadata.yaml`` (from the pinned cluster-api module, the same version as the
core provider in the inventory) so clusterctl can check the contract, and cert-manager,
which clusterctl insists on before installing any provider: its API (the two CRDs
clusterctl's readiness check writes to) stands in for it. This provider uses no
cert-manager object.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from e2e.cluster import Cluster
from e2e.node_fixtures import NodeCluster
from e2e.toolchain import REPO, Tools, ensure_tools
from tests.integration import node_helpers as nh
from tests.integration.helpers import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.node]

VERSION = "v" + tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
PROVIDER_LABEL = {"cluster.x-k8s.io/provider": "ipam-metal3"}


def _cert_manager_api() -> list[dict[str, object]]:
    def crd(kind: str, plural: str) -> dict[str, object]:
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.cert-manager.io"},
            "spec": {
                "group": "cert-manager.io",
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }

    return [crd("Issuer", "issuers"), crd("Certificate", "certificates")]


def clusterctl(
    tools: Tools, cluster: Cluster, config: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    home = config.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "CLUSTERCTL_DISABLE_VERSIONCHECK": "true",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
    }
    return subprocess.run(
        [
            str(tools.clusterctl),
            *args,
            f"--kubeconfig={cluster.kubeconfig_path}",
            f"--config={config}",
            "-v",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=420,
        check=False,
    )


@pytest.fixture(scope="module")
def repository(node_cluster: NodeCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make release-manifests`` into a directory, plus the core provider's metadata."""
    tools = ensure_tools()
    directory = tmp_path_factory.mktemp("clusterctl")
    repo = directory / "repository"
    output = nh.make(node_cluster.plane, "release-manifests", f"RELEASE_DIR={repo}")
    assert f"{repo}/ipam-metal3/{VERSION}/ipam-components.yaml" in output
    core = repo / "cluster-api" / tools.cluster_api_version
    core.mkdir(parents=True)
    shutil.copy(tools.cluster_api_source / "metadata.yaml", core / "metadata.yaml")
    (core / "core-components.yaml").write_text("# installed already: only its metadata is read\n")
    config = directory / "clusterctl.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "providers": [
                    {
                        "name": "cluster-api",
                        "type": "CoreProvider",
                        "url": f"file://{core}/core-components.yaml",
                    },
                    {
                        "name": "metal3",
                        "type": "IPAMProvider",
                        "url": f"file://{repo}/ipam-metal3/{VERSION}/ipam-components.yaml",
                    },
                ]
            }
        )
    )
    return config


def test_release_manifests_are_a_provider_repository_with_the_provider_labels(
    repository: Path,
) -> None:
    version_dir = repository.parent / "repository" / "ipam-metal3" / VERSION
    assert sorted(p.name for p in version_dir.iterdir()) == [
        "ipam-components.yaml",
        "metadata.yaml",
    ]
    docs = [d for d in yaml.safe_load_all((version_dir / "ipam-components.yaml").read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "CustomResourceDefinition", "Deployment", "ClusterRole"} <= kinds
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == [nh.SYSTEM]
    (schema,) = [d for d in docs if d["kind"] == "FlowSchema"]
    assert "namespace" not in schema["metadata"], "a FlowSchema is cluster-scoped"
    for doc in docs:
        assert PROVIDER_LABEL.items() <= doc["metadata"].get("labels", {}).items(), doc["kind"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "docker.io/library/capi-ipam:dev", "clusterctl wants it canonical"
    metadata = yaml.safe_load((version_dir / "metadata.yaml").read_text())
    major, minor = (int(x) for x in VERSION[1:].split(".")[:2])
    series = {(s["major"], s["minor"]): s["contract"] for s in metadata["releaseSeries"]}
    assert series[(major, minor)] == "v1beta2"


@pytest.fixture(scope="module")
def initialised(node_cluster: NodeCluster, repository: Path) -> Iterator[Cluster]:
    cluster = node_cluster.plane
    tools = ensure_tools()
    nh.make(cluster, "undeploy")  # nothing of a `make deploy` stays in the way
    cluster.apply(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": _cert_manager_api()})
    )
    proc = clusterctl(
        tools,
        cluster,
        repository,
        "init",
        f"--ipam=metal3:{VERSION}",
        "--wait-providers",
        "--wait-provider-timeout=300",
    )
    assert proc.returncode == 0, (
        f"clusterctl init failed:\n{proc.stdout}{proc.stderr}\n{nh.describe(cluster)}"
    )
    yield cluster
    if cluster.get_json("deployment", nh.DEPLOYMENT, "-n", nh.SYSTEM) is not None:
        clusterctl(tools, cluster, repository, "delete", "--ipam=metal3")


def test_clusterctl_init_records_the_provider_in_the_inventory(initialised: Cluster) -> None:
    provider = initialised.get_json(
        "providers.clusterctl.cluster.x-k8s.io", "ipam-metal3", "-n", nh.SYSTEM
    )
    assert provider["type"] == "IPAMProvider"
    assert (provider["providerName"], provider["version"]) == ("metal3", VERSION)
    deployment = initialised.get_json("deployment", nh.DEPLOYMENT, "-n", nh.SYSTEM)
    labels = deployment["metadata"]["labels"]
    assert labels["clusterctl.cluster.x-k8s.io"] == ""
    assert labels["cluster.x-k8s.io/provider"] == "ipam-metal3"
    assert initialised.get_json("flowschema", "ipam-leader-election") is not None


def test_the_pod_clusterctl_installed_runs_and_allocates(initialised: Cluster) -> None:
    (pod,) = nh.wait_settled(initialised, 1)
    initialised.kubectl("create", "namespace", "from-clusterctl")
    initialised.kubectl(
        "apply", "-n", "from-clusterctl", "-f", str(REPO / "examples" / "01-single-pool")
    )
    wait_for(
        "the example's two claims bound",
        lambda: nh.pool_usage(initialised, "from-clusterctl") == {"provisioning": 2},
        timeout=120,
    )
    assert nh.leader(initialised) == pod["metadata"]["name"]
    assert nh.restarts(nh.wait_settled(initialised, 1)[0]) == 0, nh.describe(initialised)


def test_clusterctl_delete_removes_the_provider_and_keeps_the_allocations(
    initialised: Cluster, repository: Path
) -> None:
    held = nh.bindings(initialised, "from-clusterctl")
    proc = clusterctl(ensure_tools(), initialised, repository, "delete", "--ipam=metal3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert initialised.get_json("deployment", nh.DEPLOYMENT, "-n", nh.SYSTEM) is None
    providers = initialised.get_json("providers.clusterctl.cluster.x-k8s.io", "-A")
    assert [p["metadata"]["name"] for p in providers["items"]] == ["cluster-api"]
    assert initialised.get_json("flowschema", "ipam-leader-election") is None
    assert initialised.get_json("crd", "ippools.ipam.metal3.io") is not None
    assert nh.bindings(initialised, "from-clusterctl") == held
