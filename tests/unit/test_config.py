"""The deployment in config/: least-privilege RBAC, a locked-down Deployment, the FlowSchema of
its Lease, a valid layout, and a `make undeploy` that removes what `make deploy` applies.

The e2e harness applies config/namespace.yaml and every file of config/rbac/ as they are,
without kustomize, so each of those files must stand on its own.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
NAMESPACE = "metal3-ipam-system"
SERVICE_ACCOUNT = "ipam-manager"
PROVIDER_LABEL = {"cluster.x-k8s.io/provider": "ipam-metal3"}


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def objects(directory: Path) -> list[dict[str, Any]]:
    return [
        d
        for p in sorted(directory.glob("*.yaml"))
        if p.name != "kustomization.yaml"
        for d in load(p)
    ]


def one(kind: str, directory: Path = CONFIG / "rbac") -> dict[str, Any]:
    (found,) = [d for d in objects(directory) if d["kind"] == kind]
    return found


def grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(API group, resource) -> verbs, merged over all rules of a role."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                table.setdefault((group, resource), set()).update(rule["verbs"])
    return table


READ = {"get", "list", "watch"}
CLUSTER_GRANTS = {
    ("ipam.metal3.io", "ippools"): READ | {"patch", "delete"},
    ("ipam.metal3.io", "ipclaims"): READ | {"patch"},
    ("ipam.metal3.io", "ippools/status"): {"patch"},
    ("ipam.metal3.io", "ipclaims/status"): {"patch"},
    ("ipam.metal3.io", "ippools/finalizers"): {"update"},
    ("ipam.metal3.io", "ipaddresses"): READ | {"create", "delete", "patch"},
    ("ipam.cluster.x-k8s.io", "ipaddressclaims"): READ | {"patch"},
    ("ipam.cluster.x-k8s.io", "ipaddressclaims/status"): {"patch"},
    ("ipam.cluster.x-k8s.io", "ipaddressclaims/finalizers"): {"update"},
    ("ipam.cluster.x-k8s.io", "ipaddresses"): READ | {"create", "delete", "patch"},
    ("cluster.x-k8s.io", "clusters"): {"list", "watch"},
    ("", "events"): {"create", "patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
}


def resource_id(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


# --- RBAC ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "resource", "verbs"),
    [
        pytest.param(g, r, v, id=f"controller may {'/'.join(sorted(v))} {resource_id(g, r)}")
        for (g, r), v in CLUSTER_GRANTS.items()
    ],
)
def test_cluster_role_grants_exactly_these_verbs(
    group: str, resource: str, verbs: set[str]
) -> None:
    assert grants(one("ClusterRole")).get((group, resource)) == verbs


def test_cluster_role_grants_nothing_beyond_the_list() -> None:
    assert set(grants(one("ClusterRole"))) == set(CLUSTER_GRANTS)


def test_leader_election_lives_in_a_role_in_the_controller_namespace_only() -> None:
    """Leases only: the leader's, and without leader election the address Leases, which
    are deleted once their address exists."""
    role = one("Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert grants(role) == {
        ("coordination.k8s.io", "leases"): {"get", "create", "update", "delete"}
    }
    assert not any(r == "leases" for _, r in grants(one("ClusterRole")))


@pytest.mark.parametrize("kind", ["ClusterRole", "Role"])
def test_roles_use_no_wildcards_resource_names_or_raw_urls(kind: str) -> None:
    for rule in one(kind)["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert not any("*" in value for value in rule.get(field, [])), rule
        assert "nonResourceURLs" not in rule
        assert "resourceNames" not in rule


@pytest.mark.parametrize("kind", ["ClusterRole", "Role"])
def test_roles_never_touch_secrets_config_maps_pods_or_rbac(kind: str) -> None:
    forbidden = {"secrets", "configmaps", "pods", "serviceaccounts", "serviceaccounts/token"}
    for group, resource in grants(one(kind)):
        assert resource not in forbidden
        assert group != "rbac.authorization.k8s.io"


@pytest.mark.parametrize(
    ("binding_kind", "role_kind", "role_name"),
    [
        pytest.param(
            "ClusterRoleBinding", "ClusterRole", "ipam-manager", id="cluster role goes to the SA"
        ),
        pytest.param(
            "RoleBinding", "Role", "ipam-leader-election", id="leader election role goes to the SA"
        ),
    ],
)
def test_binding_grants_its_role_to_the_service_account_only(
    binding_kind: str, role_kind: str, role_name: str
) -> None:
    binding = one(binding_kind)
    assert one(role_kind)["metadata"]["name"] == role_name
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role_kind,
        "name": role_name,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}
    ]


def test_service_account_lives_in_the_controller_namespace() -> None:
    account = one("ServiceAccount")
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == (
        SERVICE_ACCOUNT,
        NAMESPACE,
    )
    (namespace,) = load(CONFIG / "namespace.yaml")
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", NAMESPACE)


NAMESPACED_KINDS = {"ServiceAccount", "Role", "RoleBinding", "Deployment"}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=str(p.relative_to(CONFIG)))
        for d in ("rbac", "manager", "flowcontrol")
        for p in sorted((CONFIG / d).glob("*.yaml"))
        if p.name != "kustomization.yaml"
    ],
)
def test_each_file_stands_alone_with_namespace_and_provider_label(path: Path) -> None:
    for doc in load(path):
        metadata = doc["metadata"]
        if doc["kind"] in NAMESPACED_KINDS:
            assert metadata.get("namespace") == NAMESPACE
        else:
            assert "namespace" not in metadata
        assert PROVIDER_LABEL.items() <= metadata.get("labels", {}).items()


# --- Deployment -------------------------------------------------------------------------------


def deployment() -> dict[str, Any]:
    return one("Deployment", CONFIG / "manager")


def pod() -> dict[str, Any]:
    return deployment()["spec"]["template"]["spec"]


def manager() -> dict[str, Any]:
    (container,) = pod()["containers"]
    return container


def test_deployment_runs_the_controller_in_all_namespaces_with_leader_election() -> None:
    assert deployment()["metadata"]["name"] == "ipam-controller-manager"
    argv = manager()["command"] + manager()["args"]
    assert argv[:5] == ["python", "-m", "ipam", "run", "--all-namespaces"]
    assert "--leader-elect" in argv
    assert "--leader-election-namespace=$(POD_NAMESPACE)" in argv, "the Role's namespace"
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}) for e in manager()["env"]}
    assert env["POD_NAMESPACE"] == {"fieldPath": "metadata.namespace"}
    assert env["POD_NAME"] == {"fieldPath": "metadata.name"}
    assert manager()["image"] == "capi-ipam:dev"


def test_deployment_names_kopf_after_the_pod_so_no_passwd_entry_is_needed() -> None:
    """Kopf takes its identity from POD_ID, else from getpass.getuser(), which fails for a
    uid without a passwd entry: the controller would stop right after taking the Lease."""
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}) for e in manager()["env"]}
    assert env["POD_ID"] == {"fieldPath": "metadata.name"}


def test_deployment_arguments_are_ones_the_cli_accepts() -> None:
    from ipam import cli

    expanded = [a.replace("$(POD_NAMESPACE)", NAMESPACE) for a in manager()["args"]]
    args = cli.parser().parse_args(expanded)
    assert (args.command, args.all_namespaces, args.leader_election) == ("run", True, True)
    assert (args.health_port, args.metrics_port) == (8080, 8443)
    assert args.leader_election_namespace == NAMESPACE


def test_deployment_runs_as_the_service_account_the_rbac_binds() -> None:
    assert pod()["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"]


def test_deployment_selector_matches_its_pod_labels() -> None:
    spec = deployment()["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize(
    ("where", "field", "expected"),
    [
        pytest.param("pod", "runAsNonRoot", True, id="pod runs as non-root"),
        pytest.param("pod", "seccompProfile", {"type": "RuntimeDefault"}, id="pod seccomp default"),
        pytest.param("container", "runAsNonRoot", True, id="container runs as non-root"),
        pytest.param("container", "allowPrivilegeEscalation", False, id="no privilege escalation"),
        pytest.param("container", "privileged", False, id="not privileged"),
        pytest.param("container", "readOnlyRootFilesystem", True, id="root filesystem read-only"),
        pytest.param("container", "capabilities", {"drop": ["ALL"]}, id="all capabilities dropped"),
    ],
)
def test_deployment_is_locked_down(where: str, field: str, expected: object) -> None:
    context = pod()["securityContext"] if where == "pod" else manager()["securityContext"]
    assert context[field] == expected


def test_deployment_uses_no_host_namespaces_or_host_paths() -> None:
    spec = pod()
    assert not any(spec.get(f) for f in ("hostNetwork", "hostPID", "hostIPC"))
    assert not any("hostPath" in v for v in spec.get("volumes", []))
    assert spec["securityContext"]["runAsUser"] != 0


def ports() -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in manager()["ports"]}


def test_deployment_exposes_health_on_8080_and_metrics_on_8443() -> None:
    assert ports() == {"healthz": 8080, "metrics": 8443}
    args = manager()["args"]
    assert "--health-port=8080" in args
    assert "--metrics-port=8443" in args


@pytest.mark.parametrize(
    ("probe", "path"),
    [
        pytest.param("startupProbe", "/healthz", id="startup"),
        pytest.param("livenessProbe", "/healthz", id="liveness"),
        pytest.param("readinessProbe", "/readyz", id="readiness (a standby is ready too)"),
    ],
)
def test_probes_ask_the_health_port(probe: str, path: str) -> None:
    get = manager()[probe]["httpGet"]
    port = get["port"]
    assert get["path"] == path
    assert (ports()[port] if isinstance(port, str) else port) == 8080


def test_a_slow_start_is_given_time_before_liveness_counts() -> None:
    startup = manager()["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert "initialDelaySeconds" not in manager()["livenessProbe"]


def test_deployment_tolerates_the_control_plane_taint() -> None:
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in pod()[
        "tolerations"
    ]


def test_deployment_has_writable_scratch_space_despite_the_read_only_root() -> None:
    mounts = {m["mountPath"]: m["name"] for m in manager()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod()["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


# --- kustomize layout and clusterctl metadata --------------------------------------------


@pytest.mark.parametrize(
    "directory",
    [
        pytest.param(CONFIG / "rbac", id="config/rbac"),
        pytest.param(CONFIG / "manager", id="config/manager"),
        pytest.param(CONFIG / "flowcontrol", id="config/flowcontrol"),
        pytest.param(REPO / "crds", id="crds"),
    ],
)
def test_each_kustomization_lists_every_manifest_beside_it(directory: Path) -> None:
    (kustomization,) = load(directory / "kustomization.yaml")
    manifests = {p.name for p in directory.glob("*.yaml") if p.name != "kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)


def test_top_kustomization_ties_namespace_crds_rbac_manager_flowcontrol_with_the_label() -> None:
    (kustomization,) = load(CONFIG / "kustomization.yaml")
    assert kustomization["namespace"] == NAMESPACE
    assert kustomization["resources"] == [
        "namespace.yaml",
        "../crds",
        "rbac",
        "manager",
        "flowcontrol",
    ]
    assert kustomization["labels"] == [{"pairs": PROVIDER_LABEL, "includeSelectors": True}]
    for resource in kustomization["resources"]:
        assert (CONFIG / resource).exists(), resource


NEEDS_KUBECTL = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed"
)


def rendered_config() -> list[dict[str, Any]]:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(CONFIG)], capture_output=True, text=True, check=True
    )
    assert "deprecated" not in rendered.stderr.lower()
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


@NEEDS_KUBECTL
def test_kustomize_renders_every_object_labelled_for_the_provider() -> None:
    docs = rendered_config()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role"]
        + ["RoleBinding", "Deployment", "FlowSchema"]
        + ["CustomResourceDefinition"] * 3
    )
    for doc in docs:
        assert PROVIDER_LABEL.items() <= doc["metadata"]["labels"].items(), doc["kind"]
        namespaced = doc["kind"] in NAMESPACED_KINDS
        assert (doc["metadata"].get("namespace") == NAMESPACE) == namespaced, doc["kind"]
    (rendered_deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert PROVIDER_LABEL.items() <= rendered_deployment["spec"]["selector"]["matchLabels"].items()


def test_metadata_maps_the_project_release_series_to_contract_v1beta2() -> None:
    (metadata,) = load(CONFIG / "metadata.yaml")
    assert metadata["apiVersion"] == "clusterctl.cluster.x-k8s.io/v1alpha3"
    assert metadata["kind"] == "Metadata"
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    major, minor = (int(part) for part in version.split(".")[:2])
    series = {(s["major"], s["minor"]): s["contract"] for s in metadata["releaseSeries"]}
    assert series.get((major, minor)) == "v1beta2"


# --- the admission webhook (config/webhook, config/certmanager) ------------------------------

WEBHOOK = CONFIG / "webhook"


def webhook_configuration() -> dict[str, Any]:
    (found,) = [d for d in load(WEBHOOK / "manifests.yaml")]
    return found


def test_every_webhook_path_is_one_the_controller_serves() -> None:
    from ipam.handlers import admission

    paths = [h["clientConfig"]["service"]["path"] for h in webhook_configuration()["webhooks"]]
    assert paths == [f"/{p}" for p in admission.PATHS]


def test_webhooks_judge_creates_and_updates_only_and_never_a_subresource() -> None:
    for hook in webhook_configuration()["webhooks"]:
        for rule in hook["rules"]:
            assert rule["operations"] == ["CREATE", "UPDATE"], hook["name"]
            assert all("/" not in r for r in rule["resources"]), hook["name"]
        assert hook["failurePolicy"] == "Fail"
        assert hook["sideEffects"] == "None"
        assert hook["timeoutSeconds"] == 10


def test_the_controllers_own_writes_are_kept_away_from_the_webhook() -> None:
    account = one("ServiceAccount")["metadata"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    for hook in webhook_configuration()["webhooks"]:
        conditions = {c["name"]: c["expression"] for c in hook["matchConditions"]}
        assert conditions["not-the-controller"] == f"request.userInfo.username != '{user}'"
        assert "clusterctl.cluster.x-k8s.io/delete-for-move" in conditions["not-delete-for-move"]
        assert "deletionTimestamp" in conditions["not-being-deleted"]


def test_the_service_reaches_the_port_the_deployment_patch_opens() -> None:
    (service,) = load(WEBHOOK / "service.yaml")
    deployment = one("Deployment", CONFIG / "manager")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    patch = load(WEBHOOK / "manager_webhook_patch.yaml")[0]
    ports = [op["value"] for op in patch if op["path"].endswith("/ports/-")]
    assert [p["name"] for p in ports] == [service["spec"]["ports"][0]["targetPort"]]
    args = [op["value"] for op in patch if op["path"].endswith("/args/-")]
    assert f"--webhook-port={ports[0]['containerPort']}" in args
    for hook in webhook_configuration()["webhooks"]:
        ref = hook["clientConfig"]["service"]
        assert (ref["name"], ref["namespace"]) == (service["metadata"]["name"], NAMESPACE)


def test_cert_manager_issues_the_secret_the_deployment_mounts_and_injects_its_ca() -> None:
    objects = load(CONFIG / "certmanager" / "certificate.yaml")
    (certificate,) = [o for o in objects if o["kind"] == "Certificate"]
    patch = load(WEBHOOK / "manager_webhook_patch.yaml")[0]
    (volume,) = [op["value"] for op in patch if op["path"].endswith("/volumes/-")]
    assert certificate["spec"]["secretName"] == volume["secret"]["secretName"]
    (service,) = load(WEBHOOK / "service.yaml")
    assert f"{service['metadata']['name']}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    kustomization = (CONFIG / "certmanager" / "kustomization.yaml").read_text()
    assert f"cert-manager.io/inject-ca-from: {NAMESPACE}/{certificate['metadata']['name']}" in (
        kustomization
    )


# --- the FlowSchema of the Lease (config/flowcontrol) ------------------------------------------


def flow_schema() -> dict[str, Any]:
    return one("FlowSchema", CONFIG / "flowcontrol")


def test_flow_schema_sends_the_service_accounts_leases_to_the_leader_election_level() -> None:
    spec = flow_schema()["spec"]
    assert flow_schema()["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1"
    assert spec["priorityLevelConfiguration"] == {"name": "leader-election"}
    assert spec["distinguisherMethod"] == {"type": "ByUser"}
    (rule,) = spec["rules"]
    account = one("ServiceAccount")["metadata"]
    assert rule["subjects"] == [
        {
            "kind": "ServiceAccount",
            "serviceAccount": {"name": account["name"], "namespace": account["namespace"]},
        }
    ]
    assert "nonResourceRules" not in rule


def test_flow_schema_takes_the_lease_verbs_of_the_role_in_its_namespace_and_nothing_else() -> None:
    (resource_rule,) = flow_schema()["spec"]["rules"][0]["resourceRules"]
    assert resource_rule["apiGroups"] == ["coordination.k8s.io"]
    assert resource_rule["resources"] == ["leases"]
    assert resource_rule["namespaces"] == [one("Role")["metadata"]["namespace"]]
    assert not resource_rule.get("clusterScope", False)
    role_verbs = grants(one("Role"))[("coordination.k8s.io", "leases")]
    assert sorted(resource_rule["verbs"]) == sorted(role_verbs)


def test_flow_schema_is_matched_before_every_built_in_schema_a_service_account_falls_to() -> None:
    """The lowest precedence matches first: after the built-in leader-election schemas (100,
    and 200 where it still exists; Kubernetes' own components only), before
    service-accounts (9000), global-default (9900) and catch-all (10000); and before
    kube-system-service-accounts (900) too, so that no built-in schema for service accounts
    comes first."""
    precedence = flow_schema()["spec"]["matchingPrecedence"]
    assert 200 < precedence < 900


# --- make undeploy removes what make deploy applies ----------------------------------------


def undeploy_files() -> list[Path]:
    """Every file `make undeploy` deletes, in its order."""
    script = subprocess.run(
        ["make", "-s", "-n", "undeploy"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands = list(lexer)
    return [REPO / commands[i + 1] for i, word in enumerate(commands) if word == "-f"]


@NEEDS_KUBECTL
def test_make_undeploy_deletes_every_object_make_deploy_applies_but_the_crds() -> None:
    deleted = {
        (doc["kind"], doc["metadata"]["name"]) for path in undeploy_files() for doc in load(path)
    }
    deployed = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in rendered_config()
        if doc["kind"] != "CustomResourceDefinition"
    }
    assert deployed <= deleted
    assert ("FlowSchema", "ipam-leader-election") in deleted


def test_make_undeploy_deletes_the_flow_schema_after_the_deployment_is_gone() -> None:
    """The leader hands its Lease back while stopping: its renewals keep their priority."""
    files = [p.relative_to(CONFIG).as_posix() for p in undeploy_files()]
    assert files.index("flowcontrol/flowschema.yaml") > files.index("manager/deployment.yaml")
