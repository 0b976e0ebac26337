"""config/flowcontrol's FlowSchema puts the controller's Lease requests at the leader-election level.

An API server with API Priority and Fairness on (the harness's other control planes run
without it) classifies every request and names the FlowSchema and the priority level it
chose in the response headers ``X-Kubernetes-PF-FlowSchema-UID`` and
``X-Kubernetes-PF-PriorityLevel-UID``. The shipped FlowSchema is applied as it is, next to
the shipped namespace and RBAC, and requests made with a token of the shipped
ServiceAccount are asked where they went: its Leases in the controller's namespace to our
FlowSchema and the built-in ``leader-election`` priority level; its other requests (a list
of IPClaims, a Lease elsewhere), and another ServiceAccount's Lease requests, to the API
server's own ``service-accounts`` schema.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
import yaml

from e2e.controller import SERVICE_ACCOUNT, SYSTEM_NAMESPACE, install_rbac
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.cluster

FLOW_SCHEMA_FILE = REPO / "config" / "flowcontrol" / "flowschema.yaml"
FLOW_SCHEMA_HEADER = "X-Kubernetes-PF-FlowSchema-UID"
PRIORITY_LEVEL_HEADER = "X-Kubernetes-PF-PriorityLevel-UID"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{SYSTEM_NAMESPACE}/leases"
LEASE = "flowschema-probe"


class FairControlPlane(ControlPlane):
    """A control plane whose API server runs API Priority and Fairness, as clusters do."""

    def _apiserver_argv(self) -> list[str]:
        return [
            *(
                arg
                for arg in super()._apiserver_argv()
                if not arg.startswith("--enable-priority-and-fairness")
            ),
            "--enable-priority-and-fairness=true",
        ]


class ServiceAccountClient:
    """Plain HTTPS requests with a token of a ServiceAccount of the controller's namespace."""

    def __init__(self, cp: ControlPlane, service_account: str = SERVICE_ACCOUNT) -> None:
        self.server = cp.server
        self.token = cp.kubectl(
            "create", "token", service_account, "-n", SYSTEM_NAMESPACE, "--duration=1h"
        ).stdout.strip()
        self.context = ssl.create_default_context(cafile=str(cp.pki.ca_cert))

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Message]:
        """The status and headers of the answer, whatever the status."""
        request = urllib.request.Request(
            self.server + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                response.read()
                return int(response.status), response.headers
        except urllib.error.HTTPError as err:
            return int(err.code), err.headers


def lease(resource_version: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": LEASE, "namespace": SYSTEM_NAMESPACE}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {"holderIdentity": "probe", "leaseDurationSeconds": 15},
    }


def uid(cp: ControlPlane, kind: str, name: str) -> str:
    found = cp.get_json(kind, name)
    assert found is not None, f"{kind} {name}"
    return str(found["metadata"]["uid"])


def digested(cp: ControlPlane, name: str) -> bool:
    """The API server's APF controller has taken the FlowSchema in: Dangling is False."""
    found = cp.get_json("flowschema", name)
    conditions = (found or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Dangling" and c["status"] == "False" for c in conditions)


@pytest.fixture(scope="module")
def fair() -> Iterator[FairControlPlane]:
    cp = FairControlPlane("fair", cluster_api=False)
    cp.start()
    try:
        install_rbac(cp)
        cp.kubectl("apply", "--server-side", "-f", str(FLOW_SCHEMA_FILE))
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def ours(fair: FairControlPlane) -> str:
    """The uid of the shipped FlowSchema, once the API server classifies by it."""
    (schema,) = [d for d in yaml.safe_load_all(FLOW_SCHEMA_FILE.read_text()) if d]
    name = schema["metadata"]["name"]
    wait_for(f"FlowSchema {name} taken in by the API server", lambda: digested(fair, name), 60)
    return uid(fair, "flowschema", name)


@pytest.fixture(scope="module")
def client(fair: FairControlPlane) -> ServiceAccountClient:
    return ServiceAccountClient(fair)


def test_the_lease_requests_of_the_service_account_go_to_the_leader_election_level(
    fair: FairControlPlane, ours: str, client: ServiceAccountClient
) -> None:
    """What leader election does: create the Lease, read it, renew it, hand it back."""
    leader_election = uid(fair, "prioritylevelconfiguration", "leader-election")
    status, created = client.request("POST", LEASES, lease())
    assert status == 201
    status, read = client.request("GET", f"{LEASES}/{LEASE}")
    assert status == 200
    version = fair.get_json("lease", LEASE, "-n", SYSTEM_NAMESPACE)["metadata"]["resourceVersion"]
    status, renewed = client.request("PUT", f"{LEASES}/{LEASE}", lease(version))
    assert status == 200
    status, deleted = client.request("DELETE", f"{LEASES}/{LEASE}")
    assert status == 200
    for headers in (created, read, renewed, deleted):
        assert headers[FLOW_SCHEMA_HEADER] == ours
        assert headers[PRIORITY_LEVEL_HEADER] == leader_election


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param(
            "GET",
            f"/apis/ipam.metal3.io/v1alpha1/namespaces/{SYSTEM_NAMESPACE}/ipclaims",
            id="its list of IPClaims",
        ),
        pytest.param(
            "GET",
            f"/apis/coordination.k8s.io/v1/namespaces/default/leases/{LEASE}",
            id="a Lease elsewhere",
        ),
    ],
)
def test_the_other_requests_of_the_service_account_are_not_ours_to_classify(
    fair: FairControlPlane, ours: str, client: ServiceAccountClient, method: str, path: str
) -> None:
    _, headers = client.request(method, path)
    assert headers[FLOW_SCHEMA_HEADER], "classified by API Priority and Fairness"
    assert headers[FLOW_SCHEMA_HEADER] != ours
    assert headers[FLOW_SCHEMA_HEADER] == uid(fair, "flowschema", "service-accounts")
    assert headers[PRIORITY_LEVEL_HEADER] != uid(
        fair, "prioritylevelconfiguration", "leader-election"
    )


def test_the_lease_requests_of_another_service_account_of_the_namespace_are_not_ours(
    fair: FairControlPlane, ours: str
) -> None:
    fair.kubectl("create", "serviceaccount", "bystander", "-n", SYSTEM_NAMESPACE)
    _, headers = ServiceAccountClient(fair, "bystander").request("GET", f"{LEASES}/{LEASE}")
    assert headers[FLOW_SCHEMA_HEADER], "classified by API Priority and Fairness"
    assert headers[FLOW_SCHEMA_HEADER] != ours
    assert headers[FLOW_SCHEMA_HEADER] == uid(fair, "flowschema", "service-accounts")
