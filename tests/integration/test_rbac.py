"""The controller's ServiceAccount gets exactly what config/rbac grants, against a real API server."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from e2e.cluster import Cluster, run_kubectl
from e2e.controller import install_rbac, service_account_kubeconfig

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def sa_kubeconfig(source_cluster: Cluster) -> Path:
    install_rbac(source_cluster)
    directory = Path(tempfile.mkdtemp(prefix="capi-ipam-rbac-"))
    return service_account_kubeconfig(source_cluster, directory)


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        pytest.param("list", "ippools.ipam.metal3.io", id="list-pools"),
        pytest.param("create", "ipaddresses.ipam.metal3.io", id="create-metal3-addresses"),
        pytest.param("patch", "ipclaims.ipam.metal3.io/status", id="patch-claim-status"),
        pytest.param("create", "ipaddresses.ipam.cluster.x-k8s.io", id="create-capi-addresses"),
        pytest.param("watch", "clusters.cluster.x-k8s.io", id="watch-clusters"),
        pytest.param("create", "events", id="create-events"),
    ],
)
def test_service_account_may_do_what_the_controller_needs(
    sa_kubeconfig: Path, namespace: str, verb: str, resource: str
) -> None:
    sub = resource.split("/")
    args = ["auth", "can-i", verb, sub[0], "-n", namespace]
    if len(sub) == 2:
        args.append(f"--subresource={sub[1]}")
    assert run_kubectl(sa_kubeconfig, *args, check=False).stdout.strip() == "yes"


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        pytest.param("get", "secrets", id="read-secrets"),
        pytest.param("delete", "ipclaims.ipam.metal3.io", id="delete-claims"),
        pytest.param("update", "ippools.ipam.metal3.io", id="update-pools"),
        pytest.param("create", "ipclaims.ipam.metal3.io", id="create-claims"),
        pytest.param("update", "clusters.cluster.x-k8s.io", id="update-clusters"),
        pytest.param("create", "pods", id="create-pods"),
    ],
)
def test_service_account_is_refused_what_the_controller_does_not_need(
    sa_kubeconfig: Path, namespace: str, verb: str, resource: str
) -> None:
    assert (
        run_kubectl(
            sa_kubeconfig, "auth", "can-i", verb, resource, "-n", namespace, check=False
        ).stdout.strip()
        == "no"
    )


@pytest.mark.parametrize("verb", ["get", "create", "update", "delete"])
def test_service_account_may_handle_leases_only_in_its_own_namespace(
    sa_kubeconfig: Path, namespace: str, verb: str
) -> None:
    """The leader's Lease and, without leader election, the address Leases (deleted once
    their address exists) live in the controller's namespace, and nowhere else."""

    def may(ns: str) -> str:
        return run_kubectl(
            sa_kubeconfig,
            "auth",
            "can-i",
            verb,
            "leases.coordination.k8s.io",
            "-n",
            ns,
            check=False,
        ).stdout.strip()

    assert may("metal3-ipam-system") == "yes"
    assert may(namespace) == "no"


def test_service_account_request_beyond_rbac_is_rejected_by_the_api_server(
    sa_kubeconfig: Path, namespace: str
) -> None:
    proc = run_kubectl(sa_kubeconfig, "get", "secrets", "-n", namespace, check=False)
    assert proc.returncode != 0
    assert "forbidden" in proc.stderr.lower()


def test_service_account_request_within_rbac_is_accepted(
    sa_kubeconfig: Path, namespace: str
) -> None:
    proc = run_kubectl(sa_kubeconfig, "get", "ippools.ipam.metal3.io", "-n", namespace, check=False)
    assert proc.returncode == 0, proc.stderr
