"""config/rbac grants exactly what the controller uses: proven on an audited API server.

The controller runs under its shipped ServiceAccount through everything it does (pools
with and without a Cluster, claims of both kinds bound and released, an orphan released, a
Cluster paused and unpaused, a pool deleted, the Lease; then, restarted without leader
election, claims of both kinds bound under their address Leases), with its admission webhook
registered and judging every pool, claim and address applied (the reads it makes for that
are the ServiceAccount's too), while the API server writes an audit log. Then every request of the ServiceAccount is compared with the grants: a verb
the RBAC grants but the controller never used fails, and so does a request refused (403).

Three grants are the exception: with the OwnerReferencesPermissionEnforcement admission
plugin on (it is, here) the API server checks them itself, so no request of ours shows
them: ``delete`` on pools (to set a pool's Cluster ownerRef) and ``update`` on the
finalizers of pools and Cluster API claims (for a Cluster API IPAddress's
``blockOwnerDeletion``). The second test removes each and sees the write it allows refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e import ports, webhook
from e2e.controller import ControllerRunner, install_rbac
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO
from tests.integration.helpers import (
    CAPI_ADDRESSES,
    METAL3_ADDRESSES,
    apply_all,
    wait_for,
    workload_cluster,
)

pytestmark = pytest.mark.cluster

SERVICE_ACCOUNT = "system:serviceaccount:metal3-ipam-system:ipam-manager"
CHECKED_BY_ADMISSION = {
    (
        "ipam.metal3.io",
        "ippools",
        "delete",
    ): "cannot set an ownerRef on a resource you can't delete",
    (
        "ipam.cluster.x-k8s.io",
        "ipaddressclaims/finalizers",
        "update",
    ): "cannot set blockOwnerDeletion",
    ("ipam.metal3.io", "ippools/finalizers", "update"): "cannot set blockOwnerDeletion",
}
NS = "rbac-use"


class AuditedControlPlane(ControlPlane):
    """A control plane whose API server logs every request's metadata, and checks owners."""

    def _apiserver_argv(self) -> list[str]:
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
            "- level: None\n  nonResourceURLs: ['/*']\n- level: Metadata\n"
        )
        return [
            *super()._apiserver_argv(),
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-mode=blocking",
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
        ]

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"


@pytest.fixture(scope="module")
def audited() -> Iterator[AuditedControlPlane]:
    cp = AuditedControlPlane("audited")
    cp.start()
    try:
        yield cp
    finally:
        cp.stop()


def granted() -> set[tuple[str, str, str]]:
    found = set()
    for path in (REPO / "config/rbac/role.yaml", REPO / "config/rbac/leader_election_role.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            for rule in doc["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            found.add((group, resource, verb))
    return found


def used(audit_log: Path) -> tuple[set[tuple[str, str, str]], list[str]]:
    """What the ServiceAccount asked for, and what it was refused."""
    asked, refused = set(), []
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete":
            continue
        if event.get("user", {}).get("username") != SERVICE_ACCOUNT:
            continue
        ref = event.get("objectRef") or {}
        if not ref.get("resource"):
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        key = (ref.get("apiGroup", ""), resource, event["verb"])
        asked.add(key)
        if event.get("responseStatus", {}).get("code") == 403:
            refused.append(f"{key}: {event['responseStatus'].get('message', '')}")
    return asked, refused


def workload(cp: ControlPlane, runner: ControllerRunner) -> None:
    """Everything the controller does, once."""
    cp.kubectl("create", "namespace", NS)
    apply_all(cp, [claim("IPClaim", "early", "late")])  # its pool does not exist yet
    wait_for(
        "the early claim to say its pool is missing",
        lambda: (
            "PoolNotReady"
            in cp.kubectl("get", "ipclaims.ipam.metal3.io", "early", "-n", NS, "-o", "json").stdout
        ),
        timeout=120,
    )
    apply_all(cp, [pool("late", "10.63.0.0/24")])
    wait_for(
        "the early claim bound once its pool exists",
        lambda: bound(cp, "ipclaims.ipam.metal3.io", "early"),
        timeout=120,
    )
    apply_all(
        cp,
        [
            *workload_cluster(NS, "c1"),
            pool("owned", "10.60.0.0/24", cluster="c1"),
            pool("bare", "10.61.0.0/24"),
            claim("IPClaim", "m1", "owned"),
            claim("IPAddressClaim", "k1", "bare"),
            claim("IPClaim", "asks", "bare", ip="10.61.0.50"),
            {
                "apiVersion": "ipam.metal3.io/v1alpha1",
                "kind": "IPAddress",
                "metadata": {
                    "name": "bare-10-61-0-200",
                    "namespace": NS,
                    "finalizers": ["ipaddress.ipam.metal3.io"],
                },
                "spec": {
                    "address": "10.61.0.200",
                    "pool": {"name": "bare", "namespace": NS},
                    "claim": {"name": "gone", "namespace": NS},
                },
            },
        ],
    )
    wait_for(
        "the claims bound",
        lambda: (
            bound(cp, "ipclaims.ipam.metal3.io", "m1")
            and bound(cp, "ipaddressclaims.ipam.cluster.x-k8s.io", "k1")
            and bound(cp, "ipclaims.ipam.metal3.io", "asks")
        ),
        timeout=120,
    )
    wait_for(
        "the orphan released",
        lambda: (
            not cp.kubectl(
                "get", METAL3_ADDRESSES, "bare-10-61-0-200", "-n", NS, check=False
            ).stdout
        ),
        timeout=120,
    )
    wait_for(
        "one Allocated Event on the pool for both of its claims",
        lambda: allocated_count(cp, "bare") == 2,
        timeout=120,
    )
    apply_all(cp, [claim("IPClaim", "m2", "bare")])
    wait_for(
        "the same Event counting the next claim too (its count patched)",
        lambda: allocated_count(cp, "bare") == 3,
        timeout=120,
    )
    for paused in (True, False):
        cp.kubectl(
            "patch",
            "clusters.cluster.x-k8s.io",
            "c1",
            "-n",
            NS,
            "--type=merge",
            "-p",
            json.dumps({"spec": {"paused": paused}}),
        )
        time.sleep(2)
    cp.kubectl(
        "delete", "ipclaims.ipam.metal3.io,ipaddressclaims.ipam.cluster.x-k8s.io", "--all", "-n", NS
    )
    cp.kubectl("delete", "ippools.ipam.metal3.io", "--all", "-n", NS, timeout=120)
    wait_for(
        "every address released",
        lambda: (
            not cp.kubectl(
                "get", f"{METAL3_ADDRESSES},{CAPI_ADDRESSES}", "-n", NS, "-o", "name"
            ).stdout.strip()
        ),
        timeout=120,
    )


def without_leader_election(
    cp: ControlPlane, runner: ControllerRunner, register: Callable[[], None]
) -> None:
    """Restarted with --no-leader-election, each new address is made under a Lease of its
    own in the controller's namespace: created, then deleted. The restarted webhook signs
    with a new certificate, so it is registered again."""
    runner.restart([*runner.extra_args, "--no-leader-election"])
    assert runner.wait_for_log(
        "Controller running", timeout=60, after="Leader election is disabled"
    ), runner.log_tail(50)
    wait_for("the webhook to listen", lambda: webhook.serving(runner.health_port))
    register()
    apply_all(
        cp,
        [
            pool("alone", "10.64.0.0/24"),
            claim("IPClaim", "m2", "alone"),
            claim("IPAddressClaim", "k2", "alone"),
        ],
    )
    wait_for(
        "the claims bound without leader election",
        lambda: (
            bound(cp, "ipclaims.ipam.metal3.io", "m2")
            and bound(cp, "ipaddressclaims.ipam.cluster.x-k8s.io", "k2")
        ),
        timeout=120,
    )
    assert runner.wait_for_log("made under its Lease", timeout=5), runner.log_tail(50)


def pool(name: str, subnet: str, cluster: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"namePrefix": name, "pools": [{"subnet": subnet}], "prefix": 24}
    if cluster:
        spec["clusterName"] = cluster
    return {
        "apiVersion": "ipam.metal3.io/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def claim(kind: str, name: str, pool_name: str, *, ip: str = "") -> dict[str, Any]:
    if kind == "IPClaim":
        meta: dict[str, Any] = {"name": name, "namespace": NS}
        if ip:
            meta["annotations"] = {"ipAddress": ip}
        return {
            "apiVersion": "ipam.metal3.io/v1alpha1",
            "kind": kind,
            "metadata": meta,
            "spec": {"pool": {"name": pool_name}},
        }
    return {
        "apiVersion": "ipam.cluster.x-k8s.io/v1beta2",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": {"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool_name}},
    }


def allocated_count(cp: ControlPlane, pool_name: str) -> int:
    """The count of the pool's Allocated Event (0 before it exists)."""
    listed = cp.get_json("events", "-n", NS, "--field-selector", f"involvedObject.name={pool_name}")
    counts = [e.get("count", 1) for e in listed["items"] if e.get("reason") == "Allocated"]
    return max(counts, default=0)


def bound(cp: ControlPlane, resource: str, name: str) -> bool:
    found = cp.get_json(resource, name, "-n", NS) or {}
    status = found.get("status") or {}
    return bool(status.get("address") or status.get("addressRef"))


def test_the_controller_uses_every_verb_its_rbac_grants_and_no_other(
    audited: AuditedControlPlane, tmp_path: Path
) -> None:
    """The webhook is on (self-signed, as in development): its reads are audited too."""
    port, ca_file = ports.free_port(), tmp_path / "webhook-ca.crt"
    args = ["--orphan-grace=1", *webhook.controller_args(port), f"--webhook-ca-file={ca_file}"]
    runner = ControllerRunner(audited, tmp_path, extra_args=args)
    runner.start()
    configuration = "ipam-audited"
    try:
        assert runner.wait_for_log("Controller running", timeout=60), runner.log_tail(50)
        wait_for("the webhook to listen", lambda: webhook.serving(runner.health_port))

        def register() -> None:
            webhook.register(
                audited, webhook.configuration(configuration, port, ca_file.read_bytes())
            )

        register()
        workload(audited, runner)
        without_leader_election(audited, runner, register)
    finally:
        webhook.unregister(audited, configuration)
        runner.stop()
    assert "Refused" not in runner.log_tail(5000)
    asked, refused = used(audited.audit_log)
    assert not refused, "refused requests:\n" + "\n".join(refused)
    never_used = granted() - asked - set(CHECKED_BY_ADMISSION)
    assert not never_used, f"granted but never used: {sorted(never_used)}"


@pytest.mark.parametrize("grant", list(CHECKED_BY_ADMISSION), ids=lambda g: "/".join(g[1:]))
def test_each_grant_the_admission_plugin_checks_is_needed(
    audited: AuditedControlPlane, tmp_path: Path, grant: tuple[str, str, str]
) -> None:
    """Without it, the owner references the controller writes are refused."""
    group, resource, verb = grant
    install_rbac(audited)
    role = audited.get_json("clusterrole", "ipam-manager")
    role["rules"] = [
        r
        for r in role["rules"]
        if not (group in r["apiGroups"] and r["resources"] == [resource] and r["verbs"] == [verb])
    ]
    for key in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
        role["metadata"].pop(key, None)
    audited.kubectl("replace", "-f", "-", input=json.dumps(role))
    namespace = f"rbac-{resource.replace('/', '-')}-{verb}"
    audited.kubectl("create", "namespace", namespace)
    runner = ControllerRunner(audited, tmp_path, name=namespace)
    try:
        runner.start(rbac=False)  # applying config/rbac again would restore the grant
        assert runner.wait_for_log("Controller running", timeout=60), runner.log_tail(50)
        if resource == "ippools":
            objects = [
                *workload_cluster(namespace, "c"),
                {
                    **pool("p", "10.62.0.0/24", cluster="c"),
                    "metadata": {"name": "p", "namespace": namespace},
                },
            ]
        else:
            objects = [
                {**pool("p", "10.62.0.0/24"), "metadata": {"name": "p", "namespace": namespace}},
                {
                    **claim("IPAddressClaim", "k", "p"),
                    "metadata": {"name": "k", "namespace": namespace},
                },
            ]
        apply_all(audited, objects)
        needle = CHECKED_BY_ADMISSION[grant]
        assert runner.wait_for_log(needle, timeout=90), runner.log_tail(50)
    finally:
        runner.stop()
        install_rbac(audited)
