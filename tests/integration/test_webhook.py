"""The admission webhook on a real API server: what it refuses, word for word, and what it never blocks.

The shipped configuration (``config/webhook/manifests.yaml``) is registered by URL with
the session's control planes, served by the controller process with a certificate the
harness CA issued. The judge of most tests serves no namespace (``--namespace`` of one
nobody uses, no leader election), so nothing is allocated behind the requests and every
answer depends only on the objects the test applied.
"""

from __future__ import annotations

import json
import secrets
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e import ports, webhook
from e2e.cluster import Cluster
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane
from e2e.move import move
from e2e.toolchain import REPO
from tests.integration.helpers import (
    CAPI_CLAIMS,
    METAL3_ADDRESSES,
    METAL3_CLAIMS,
    POOLS,
    apply_all,
    wait_for,
    workload_cluster,
)
from tests.integration.test_controller_move import bindings, pool_and_claims

pytestmark = pytest.mark.cluster

METAL3 = "ipam.metal3.io/v1alpha1"
CAPI = "ipam.cluster.x-k8s.io/v1beta2"


class Judge:
    """A controller process serving the webhook, and the configuration that calls it."""

    def __init__(
        self,
        cluster: ControlPlane,
        workdir: Path,
        *,
        name: str,
        args: list[str],
        exempt_controller: bool = True,
        bare: bool = False,
    ) -> None:
        self.cluster = cluster
        self.port = ports.free_port()
        cert, key = webhook.serving_files(cluster.pki, "webhook")
        self.runner = ControllerRunner(
            cluster,
            workdir,
            name=name,
            extra_args=[*args, *webhook.controller_args(self.port, cert, key)],
        )
        self.configuration = webhook.configuration(
            f"ipam-{name}-{secrets.token_hex(3)}",
            self.port,
            cluster.pki.ca_cert.read_bytes(),
            exempt_controller=exempt_controller,
        )
        if bare:  # every request goes to the webhook: it must let the right ones through itself
            for hook in self.configuration["webhooks"]:
                hook["matchConditions"] = [
                    c for c in hook["matchConditions"] if c["name"] == "claims-an-ippool"
                ]

    def start(self, *, leading: bool = True) -> Judge:
        self.runner.start()
        if leading:
            assert self.runner.wait_for_log("Controller running", timeout=90), (
                self.runner.log_tail()
            )
        wait_for(
            f"the webhook of {self.runner.name} to listen",
            lambda: webhook.serving(self.runner.health_port),
            timeout=90,
        )
        webhook.register(self.cluster, self.configuration)
        return self

    def __enter__(self) -> Judge:
        return self.start()

    def __exit__(self, *_: object) -> None:
        webhook.unregister(self.cluster, self.configuration["metadata"]["name"])
        self.runner.stop()


@pytest.fixture(scope="module")
def judge(
    clusters: dict[str, Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Judge]:
    source = clusters["source"]
    if not isinstance(source, ControlPlane):
        pytest.skip("the webhook is registered by URL only with the harness's own control planes")
    args = ["--no-leader-election", "--namespace=nobody-uses-this-namespace"]
    with Judge(source, tmp_path_factory.mktemp("judge"), name="judge", args=args) as running:
        yield running


def create(cluster: Cluster, *objects: dict[str, Any]) -> tuple[int, str]:
    """``kubectl create`` of the objects: exit code and what kubectl printed on stderr."""
    proc = cluster.kubectl(
        "create",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
        check=False,
    )
    return proc.returncode, proc.stderr


def pool(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": METAL3,
        "kind": "IPPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def claim(ns: str, name: str, pool_name: str, ip: str | None = None, **ref: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if ip:
        meta["annotations"] = {"ipAddress": ip}
    return {
        "apiVersion": METAL3,
        "kind": "IPClaim",
        "metadata": meta,
        "spec": {"pool": {"name": pool_name, **ref}},
    }


def capi_claim(namespace: str, name: str, pool_name: str, ip: str | None = None) -> dict[str, Any]:
    body = claim(namespace, name, pool_name, ip)
    body.update(
        apiVersion=CAPI,
        kind="IPAddressClaim",
        spec={"poolRef": {"apiGroup": "ipam.metal3.io", "kind": "IPPool", "name": pool_name}},
    )
    return body


def address(namespace: str, name: str, ip: str, pool_name: str, claim_name: str) -> dict[str, Any]:
    return {
        "apiVersion": METAL3,
        "kind": "IPAddress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "address": ip,
            "pool": {"name": pool_name, "namespace": namespace},
            "claim": {"name": claim_name, "namespace": namespace},
        },
    }


# --- refusals, word for word -------------------------------------------------------------------


def test_a_pool_is_refused_with_every_problem_listed_at_once(judge: Judge, namespace: str) -> None:
    cluster = judge.cluster
    assert create(
        cluster,
        pool(
            namespace,
            "first",
            namePrefix="shared",
            pools=[{"subnet": "10.80.0.0/24"}],
            preAllocations={"m-0": "10.80.0.5"},
        ),
        address(namespace, "shared-10-80-0-6", "10.80.0.6", "first", "m-1"),
    ) == (0, "")
    code, stderr = create(
        cluster,
        pool(
            namespace,
            "second",
            namePrefix="shared",
            pools=[{"subnet": "10.80.0.0/24"}],
            preAllocations={"a": "10.80.0.5", "b": "10.80.0.6", "c": "10.80.9.9"},
        ),
    )
    assert code == 1
    assert stderr.splitlines() == [
        'The IPPool "second" is invalid: ',
        "* spec.preAllocations[c]: 10.80.9.9 is out of bounds of the pools given",
        "* spec.namePrefix: 'shared' is already the namePrefix of IPPool first: both pools "
        "would give their IPAddresses the same names",
        "* spec.preAllocations[a]: 10.80.0.5 is pre-allocated to claim m-0 by IPPool first",
        "* spec.preAllocations[b]: 10.80.0.6 is held by IPClaim m-1 (IPAddress shared-10-80-0-6)",
    ]
    assert cluster.get_json(POOLS, "second", "-n", namespace) is None


def post(cluster: ControlPlane, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST as the harness's admin, straight to the API server: the status code and answer."""
    context = ssl.create_default_context(cafile=str(cluster.pki.ca_cert))
    context.load_cert_chain(str(cluster.pki.admin_cert), str(cluster.pki.admin_key))
    request = urllib.request.Request(
        f"{cluster.server}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read())


def test_the_refusal_is_a_status_of_reason_invalid_with_one_cause_per_field(
    judge: Judge, namespace: str
) -> None:
    bad = pool(
        namespace,
        "p",
        namePrefix="p",
        pools=[{"start": "10.81.0.1", "end": "10.81.0.9"}],
        preAllocations={"w": "10.9.9.8", "x": "10.9.9.9"},
    )
    code, status = post(
        judge.cluster, f"/apis/ipam.metal3.io/v1alpha1/namespaces/{namespace}/ippools", bad
    )
    assert code == 422
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'admission webhook "validation.ippool.ipam.metal3.io" denied the request: '
        'IPPool.ipam.metal3.io "p" is invalid: [spec.preAllocations[w]: 10.9.9.8 is out of '
        "bounds of the pools given, spec.preAllocations[x]: 10.9.9.9 is out of bounds of the "
        "pools given]"
    )
    assert status["details"] == {
        "name": "p",
        "group": "ipam.metal3.io",
        "kind": "IPPool",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "10.9.9.8 is out of bounds of the pools given",
                "field": "spec.preAllocations[w]",
            },
            {
                "reason": "FieldValueInvalid",
                "message": "10.9.9.9 is out of bounds of the pools given",
                "field": "spec.preAllocations[x]",
            },
        ],
    }


def test_claims_of_both_kinds_are_refused_for_what_their_pool_and_its_addresses_say(
    judge: Judge, namespace: str
) -> None:
    cluster = judge.cluster
    assert create(
        cluster,
        pool(
            namespace,
            "prov",
            namePrefix="prov",
            pools=[{"start": "10.82.0.10", "end": "10.82.0.20"}],
        ),
        address(namespace, "prov-10-82-0-11", "10.82.0.11", "prov", "holder"),
    ) == (0, "")
    code, stderr = create(
        cluster, claim(namespace, "m-0", "prov", "10.82.0.99", namespace="elsewhere")
    )
    assert code == 1
    assert stderr.splitlines() == [
        'The IPClaim "m-0" is invalid: ',
        "* spec.pool.namespace: elsewhere is not the claim's namespace "
        f"{namespace}: a claim is served only by a pool of its own namespace",
        "* metadata.annotations[ipAddress]: 10.82.0.99 is produced by no entry of IPPool prov",
    ]
    code, stderr = create(cluster, capi_claim(namespace, "k-0", "prov", "10.82.0.11"))
    assert code == 1
    assert stderr.splitlines() == [
        'The IPAddressClaim "k-0" is invalid: metadata.annotations[ipAddress]: 10.82.0.11 is '
        "held by IPClaim holder (IPAddress prov-10-82-0-11)",
    ]
    # The holder itself may ask for its own address, a claim may wait for a pool that does
    # not exist yet, and another provider's claims are none of our business.
    foreign = capi_claim(namespace, "other-provider", "prov", "not-an-ip")
    foreign["spec"]["poolRef"]["apiGroup"] = "ipam.cluster.x-k8s.io"
    foreign["spec"]["poolRef"]["kind"] = "InClusterIPPool"
    assert create(
        cluster,
        claim(namespace, "holder", "prov", "10.82.0.11"),
        claim(namespace, "early", "not-yet", "10.99.0.1"),
        capi_claim(namespace, "k-1", "prov", "10.82.0.12"),
        foreign,
    ) == (0, "")


def test_a_pool_edit_that_would_strand_a_held_address_is_refused_and_others_pass(
    judge: Judge, namespace: str
) -> None:
    cluster = judge.cluster
    assert create(
        cluster,
        pool(
            namespace,
            "prov",
            namePrefix="prov",
            pools=[{"start": "10.83.0.10", "end": "10.83.0.20"}],
        ),
        address(namespace, "prov-10-83-0-18", "10.83.0.18", "prov", "m-8"),
    ) == (0, "")

    def patch(spec: dict[str, Any]) -> tuple[int, str]:
        proc = cluster.kubectl(
            "patch",
            POOLS,
            "prov",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            json.dumps({"spec": spec}),
            check=False,
        )
        return proc.returncode, proc.stderr

    code, stderr = patch({"pools": [{"start": "10.83.0.10", "end": "10.83.0.15"}]})
    assert code == 1
    assert stderr.splitlines() == [
        'The IPPool "prov" is invalid: spec.pools: 10.83.0.18 is held by IPClaim m-8 '
        "(IPAddress prov-10-83-0-18) but is out of bounds of the pools given",
    ]
    assert patch({"pools": [{"start": "10.83.0.10", "end": "10.83.0.18"}]}) == (0, "")
    assert patch({"gateway": "10.83.0.1"}) == (0, "")


# --- what passes ---------------------------------------------------------------------------------


def test_every_example_passes(judge: Judge, namespace: str) -> None:
    for folder in sorted((REPO / "examples").iterdir()):
        for manifest in sorted(folder.glob("*.yaml")):
            proc = judge.cluster.kubectl("apply", "-n", namespace, "-f", str(manifest), check=False)
            assert proc.returncode == 0, f"{manifest}: {proc.stderr}"


SCENARIO_KINDS = {"IPPool", "IPClaim", "IPAddressClaim", "IPAddress"}
REFUSED_IN_SCENARIOS = {
    # The controller's own answer to these is what the scenarios prove; with the webhook on,
    # they never reach it.
    ("allocation/requests_and_their_errors.yaml", "IPClaim", "outside"): (
        "metadata.annotations[ipAddress]: 10.9.9.9 is produced by no entry of IPPool req"
    ),
    ("allocation/requests_and_their_errors.yaml", "IPClaim", "garbled"): (
        "metadata.annotations[ipAddress]: '10.3.0.300' is not a valid IP address"
    ),
    ("conflicts/shared_name_prefix_is_reported_not_hung.yaml", "IPPool", "green"): (
        "spec.namePrefix: 'prov' is already the namePrefix of IPPool blue: both pools would "
        "give their IPAddresses the same names"
    ),
    ("bad_input/invalid_entries_stored_past_admission_hand_out_nothing.yaml", "IPPool", "mixed"): (
        "spec.pools[0].end: end ::ffff:a70:1 is before start ::ffff:a70:9; "
        "spec.pools[1].prefix: prefix 64 is longer than 32, the longest IPv4 prefix; "
        "spec.pools[2]: has only end, which counts only with start or subnet: it produces no "
        "addresses"
    ),
    ("bad_input/pool_with_no_valid_entry_tells_claims_why.yaml", "IPPool", "broken"): (
        "spec.pools[0]: has only end, which counts only with start or subnet: it produces no "
        "addresses; spec.pools[1].subnet: subnet fd00:113::/64 and start ::ffff:a71:1 are of "
        "different IP families"
    ),
    ("bad_input/pre_allocation_outside_the_pool_is_reported.yaml", "IPPool", "pre"): (
        "spec.preAllocations[outside]: 10.118.0.99 is out of bounds of the pools given"
    ),
    ("bad_input/requested_address_outside_the_pool_is_refused.yaml", "IPClaim", "other-subnet"): (
        "metadata.annotations[ipAddress]: 10.117.1.10 is produced by no entry of IPPool req"
    ),
    ("bad_input/requested_address_outside_the_pool_is_refused.yaml", "IPClaim", "other-family"): (
        "metadata.annotations[ipAddress]: fd00:117::10 is produced by no entry of IPPool req"
    ),
    (
        "bad_input/requested_address_outside_the_pool_is_refused.yaml",
        "IPAddressClaim",
        "capi-outside",
    ): "metadata.annotations[ipAddress]: 10.117.0.200 is produced by no entry of IPPool req",
    ("bad_input/malformed_claims_never_stop_the_controller.yaml", "IPClaim", "cidr"): (
        "metadata.annotations[ipAddress]: '10.120.0.12/24' is not a valid IP address"
    ),
    ("bad_input/malformed_claims_never_stop_the_controller.yaml", "IPClaim", "slashed"): (
        "spec.pool.name: 'pool/../../x' is not a valid object name (a lowercase RFC 1123 subdomain), so no IPPool can ever have it"
    ),
    ("bad_input/malformed_claims_never_stop_the_controller.yaml", "IPClaim", "spaced"): (
        "spec.pool.name: 'Upper Case' is not a valid object name (a lowercase RFC 1123 subdomain), so no IPPool can ever have it"
    ),
}
PLURALS = {"IPPool": "ippools", "IPClaim": "ipclaims", "IPAddressClaim": "ipaddressclaims"}
PLURALS["IPAddress"] = "ipaddresses"


def scenario_objects(path: Path, namespace: str) -> list[dict[str, Any]]:
    """The pools, claims and addresses a scenario applies, in order (templated ones aside)."""
    found = []
    for step in yaml.safe_load(path.read_text())["steps"]:
        body = step.get("apply")
        if body is None or "refused" in step:
            continue  # a refused apply is the CRD's to refuse, before any webhook
        for obj in body if isinstance(body, list) else [body]:
            text = json.dumps(obj).replace("{{ namespace }}", namespace)
            if obj.get("kind") not in SCENARIO_KINDS or "{{" in text:
                continue
            item = json.loads(text)
            item["metadata"]["namespace"] = namespace
            found.append(item)
    return found


def test_the_scenarios_objects_pass_except_the_conflicts_they_provoke(
    judge: Judge, clusters: dict[str, Cluster]
) -> None:
    cluster = judge.cluster
    refused: dict[tuple[str, str, str], str] = {}
    applied = 0
    for path in sorted((REPO / "scenarios").rglob("*.yaml")):
        objects = scenario_objects(path, f"wh-{secrets.token_hex(4)}")
        if not objects:
            continue
        namespace = objects[0]["metadata"]["namespace"]
        created, _ = post(cluster, "/api/v1/namespaces", {"metadata": {"name": namespace}})
        assert created == 201
        try:
            for obj in objects:
                where = f"/apis/{obj['apiVersion']}/namespaces/{namespace}/{PLURALS[obj['kind']]}"
                code, answer = post(cluster, where, obj)
                applied += 1
                if code != 201:
                    scenario = str(path.relative_to(REPO / "scenarios"))
                    causes = answer.get("details", {}).get("causes", [])
                    refused[(scenario, obj["kind"], obj["metadata"]["name"])] = "; ".join(
                        f"{c['field']}: {c['message']}" for c in causes
                    ) or answer.get("message", "")
        finally:
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    assert refused == REFUSED_IN_SCENARIOS, json.dumps(
        {" ".join(k): v for k, v in refused.items()}, indent=1
    )
    assert applied > 50


def test_writes_that_must_always_pass_do_while_no_webhook_answers(
    judge: Judge, namespace: str
) -> None:
    cluster = judge.cluster
    assert create(
        cluster,
        pool(namespace, "prov", namePrefix="prov", pools=[{"subnet": "10.84.0.0/24"}]),
        {
            **claim(namespace, "kept", "prov"),
            "metadata": {
                "name": "kept",
                "namespace": namespace,
                "finalizers": ["example.com/keep"],
            },
        },
        claim(namespace, "moved", "prov"),
    ) == (0, "")
    dead = webhook.configuration(
        f"ipam-dead-{secrets.token_hex(3)}", ports.free_port(), cluster.pki.ca_cert.read_bytes()
    )
    webhook.register(cluster, dead)
    try:

        def run(*args: str) -> tuple[int, str]:
            proc = cluster.kubectl(*args, "-n", namespace, check=False)
            return proc.returncode, proc.stderr

        code, stderr = create(
            cluster, pool(namespace, "new", namePrefix="new", pools=[{"subnet": "10.85.0.0/24"}])
        )
        assert code == 1
        assert 'failed calling webhook "validation.ippool.ipam.metal3.io"' in stderr
        code, stderr = run("annotate", METAL3_CLAIMS, "moved", "ipAddress=10.84.0.7")
        assert code == 1
        assert 'failed calling webhook "validation.ipclaim.ipam.metal3.io"' in stderr
        for args in (
            ("label", POOLS, "prov", "team=net"),
            ("annotate", METAL3_CLAIMS, "moved", "clusterctl.cluster.x-k8s.io/delete-for-move="),
            ("annotate", METAL3_CLAIMS, "moved", "ipAddress=10.84.0.7"),
            ("delete", METAL3_CLAIMS, "moved"),
            ("delete", METAL3_CLAIMS, "kept", "--wait=false"),
            (
                "patch",
                METAL3_CLAIMS,
                "kept",
                "--type=merge",
                "-p",
                '{"metadata": {"finalizers": null}}',
            ),
            ("annotate", POOLS, "prov", "clusterctl.cluster.x-k8s.io/delete-for-move="),
            ("patch", POOLS, "prov", "--type=merge", "-p", '{"spec": {"gateway": "10.84.0.1"}}'),
            ("delete", POOLS, "prov"),
        ):
            assert run(*args)[0] == 0, f"{args}: {run(*args)[1]}"
    finally:
        webhook.unregister(cluster, dead["metadata"]["name"])


def test_the_controllers_own_writes_pass_even_when_every_request_reaches_the_webhook(
    clusters: dict[str, Cluster], namespace: str, tmp_path: Path
) -> None:
    source = clusters["source"]
    assert isinstance(source, ControlPlane)
    with Judge(source, tmp_path, name="writer", args=["--orphan-grace=1"], bare=True) as running:
        cluster = running.cluster
        apply_all(
            cluster,
            [
                pool(
                    namespace,
                    "prov",
                    namePrefix="prov",
                    pools=[{"start": "10.86.0.10", "end": "10.86.0.30"}],
                    preAllocations={"fixed": "10.86.0.30"},
                ),
                claim(namespace, "fixed", "prov"),
                claim(namespace, "asks", "prov", "10.86.0.20"),
                capi_claim(namespace, "k", "prov"),
            ],
        )

        def bound() -> bool:
            found = [
                (cluster.get_json(resource, name, "-n", namespace) or {}).get("status") or {}
                for resource, name in (
                    (METAL3_CLAIMS, "fixed"),
                    (METAL3_CLAIMS, "asks"),
                    (CAPI_CLAIMS, "k"),
                )
            ]
            return all(s.get("address") or s.get("addressRef") for s in found)

        wait_for("the three claims bound with the webhook judging every write", bound, timeout=90)
        names = cluster.kubectl(
            "get", METAL3_ADDRESSES, "-n", namespace, "-o", "name"
        ).stdout.split()
        assert sorted(names) == [
            "ipaddress.ipam.metal3.io/prov-10-86-0-20",
            "ipaddress.ipam.metal3.io/prov-10-86-0-30",
        ]
        cluster.kubectl(
            "delete", f"{METAL3_CLAIMS},{CAPI_CLAIMS}", "--all", "-n", namespace, timeout=90
        )
        cluster.kubectl("delete", POOLS, "prov", "-n", namespace, timeout=90)
        log = running.runner.log_tail(5000)
    assert "Refused" not in log
    assert "Cannot judge" not in log


def test_a_standby_answers_admissions(
    clusters: dict[str, Cluster], namespace: str, tmp_path: Path
) -> None:
    source = clusters["source"]
    assert isinstance(source, ControlPlane)
    leader = ControllerRunner(source, tmp_path, name="leader").start()
    try:
        assert leader.wait_for_log("Controller running", timeout=90), leader.log_tail()
        standby = Judge(source, tmp_path, name="standby", args=[])
        try:
            standby.start(leading=False)
            code, stderr = create(
                source,
                pool(
                    namespace,
                    "p",
                    namePrefix="p",
                    pools=[{"subnet": "10.87.0.0/24"}],
                    preAllocations={"m": "10.9.9.9"},
                ),
            )
            assert (code, stderr) == (
                1,
                'The IPPool "p" is invalid: spec.preAllocations[m]: 10.9.9.9 is out of bounds '
                "of the pools given\n",
            )
            log = standby.runner.log_tail(5000)
            assert "Refused create of IPPool" in log
            assert "Controller running" not in log
        finally:
            standby.__exit__()
    finally:
        leader.stop()


def test_a_clusterctl_move_passes_with_the_webhook_on_both_sides(
    clusters: dict[str, Cluster], namespace: str, tmp_path: Path
) -> None:
    source, target = clusters["source"], clusters["target"]
    assert isinstance(source, ControlPlane)
    assert isinstance(target, ControlPlane)
    with (
        Judge(source, tmp_path / "source", name="move-source", args=[]) as before_move,
        Judge(target, tmp_path / "target", name="move-target", args=[]) as after_move,
    ):
        apply_all(source, workload_cluster(namespace, "wl"))
        owner = source.get_json("clusters.cluster.x-k8s.io", "wl", "-n", namespace)
        objects = pool_and_claims(namespace, owner, ["a", "b"])
        objects[0]["spec"]["preAllocations"] = {"a": "10.70.0.20"}
        objects[3]["metadata"]["annotations"] = {"ipAddress": "10.70.0.25"}  # claim b
        apply_all(source, objects)
        before = wait_for(
            "four claims bound in the source",
            lambda: (b := bindings(source, namespace)) and len(b) == 4 and b,
            timeout=90,
        )
        assert before["IPClaim/a"] == "prov-10-70-0-20"
        assert before["IPClaim/b"] == "prov-10-70-0-25"

        move(source, target, namespace)

        after = wait_for(
            "four claims bound in the target",
            lambda: (b := bindings(target, namespace)) and len(b) == 4 and b,
            timeout=90,
        )
        assert after == before
        logs = before_move.runner.log_tail(5000) + after_move.runner.log_tail(5000)
    assert "Refused" not in logs
