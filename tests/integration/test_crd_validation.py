"""The IPPool CRD's CEL rules on a real API server: what it refuses, in which words, and what not.

Each refused pool is created with ``--dry-run=server``, which runs the same validation as a
real create, and the exact lines the API server prints are compared. Every pool of
``examples/``, ``scenarios/`` and ``conformance/cases/`` must still be accepted, and so
must what upstream Metal3 IPAM accepts (subnet-only, start-only and end-only entries, host
bits in a subnet). A pool stored before the rules existed stays editable wherever the
rules do not look (Kubernetes ratchets rules on unchanged values; the spec-level rules
ratchet by hand).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import random
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.cluster import Cluster
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "ipam.metal3.io_ippools.yaml"


def pool(namespace: str, spec: dict[str, Any], group: str = "ipam.metal3.io") -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "IPPool",
        "metadata": {"name": f"p-{secrets.token_hex(4)}", "namespace": namespace},
        "spec": {"namePrefix": "p", **spec},
    }


def refusal(proc_stderr: str) -> list[str]:
    """The API server's field errors, one line each, as kubectl prints them."""
    _, _, rest = proc_stderr.partition(" is invalid: ")
    assert rest, proc_stderr
    lines = [line.removeprefix("* ") for line in rest.strip().splitlines()]
    return [line for line in lines if line]


def create(cluster: Cluster, obj: dict[str, Any], *args: str) -> tuple[bool, str]:
    proc = cluster.kubectl("create", *args, "-f", "-", input=json.dumps(obj), check=False)
    return proc.returncode == 0, proc.stderr


def dry_run(cluster: Cluster, obj: dict[str, Any]) -> tuple[bool, str]:
    return create(cluster, obj, "--dry-run=server")


V4 = {"start": "10.0.0.10", "end": "10.0.0.20", "subnet": "10.0.0.0/24"}
V6 = {"start": "fd00::10", "end": "fd00::20", "subnet": "fd00::/64"}
INVALID = "Invalid value: "


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"pools": [{"start": "10.0.0.9", "end": "10.0.0.1"}]},
            [f"spec.pools[0].end: {INVALID}end 10.0.0.1 is before start 10.0.0.9"],
            id="ipv4-end-before-start",
        ),
        pytest.param(
            {"pools": [{"start": "255.255.255.255", "end": "0.0.0.0"}]},
            [f"spec.pools[0].end: {INVALID}end 0.0.0.0 is before start 255.255.255.255"],
            id="ipv4-first-bit-differs",
        ),
        pytest.param(
            {"pools": [{"start": "10.0.0.3", "end": "10.0.0.2"}]},
            [f"spec.pools[0].end: {INVALID}end 10.0.0.2 is before start 10.0.0.3"],
            id="ipv4-last-bit-differs",
        ),
        pytest.param(
            {"pools": [{"start": "fd00::1:0", "end": "fd00::ffff"}]},
            [f"spec.pools[0].end: {INVALID}end fd00::ffff is before start fd00::1:0"],
            id="ipv6-end-before-start",
        ),
        pytest.param(
            {"pools": [{"start": "::1", "end": "::"}]},
            [f"spec.pools[0].end: {INVALID}end :: is before start ::1"],
            id="ipv6-last-bit-differs",
        ),
        pytest.param(
            {"pools": [{"start": "10.0.0.1", "end": "fd00::1"}]},
            [
                f"spec.pools[0].end: {INVALID}end fd00::1 and start 10.0.0.1 are of different IP families"
            ],
            id="start-ipv4-end-ipv6",
        ),
        pytest.param(
            {"pools": [{"start": "fd00::1", "subnet": "10.0.0.0/24"}]},
            [
                f"spec.pools[0].subnet: {INVALID}subnet 10.0.0.0/24 and start fd00::1 are of "
                "different IP families"
            ],
            id="start-ipv6-subnet-ipv4",
        ),
        pytest.param(
            {"pools": [{"end": "fd00::1", "subnet": "10.0.0.0/24"}]},
            [
                f"spec.pools[0].end: {INVALID}end fd00::1 and subnet 10.0.0.0/24 are of "
                "different IP families"
            ],
            id="end-ipv6-subnet-ipv4",
        ),
        pytest.param(
            {"pools": [{"start": "10.0.1.1", "subnet": "10.0.0.0/24"}]},
            [f"spec.pools[0].start: {INVALID}start 10.0.1.1 lies outside subnet 10.0.0.0/24"],
            id="start-outside-subnet",
        ),
        pytest.param(
            {"pools": [{"start": "10.0.0.250", "end": "10.0.1.9", "subnet": "10.0.0.0/24"}]},
            [f"spec.pools[0].end: {INVALID}end 10.0.1.9 lies outside subnet 10.0.0.0/24"],
            id="end-outside-subnet",
        ),
        pytest.param(
            {"pools": [{"subnet": "fd00::/64", "end": "fd01::9"}]},
            [f"spec.pools[0].end: {INVALID}end fd01::9 lies outside subnet fd00::/64"],
            id="ignored-end-outside-subnet",
        ),
        pytest.param(
            {"pools": [{**V4, "prefix": 33}]},
            [f"spec.pools[0].prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix"],
            id="ipv4-entry-prefix-33",
        ),
        pytest.param(
            {"pools": [{"subnet": "10.0.0.0/24", "prefix": 64}]},
            [f"spec.pools[0].prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix"],
            id="ipv4-subnet-only-prefix-64",
        ),
        pytest.param(
            {"prefix": 33, "pools": [{"subnet": "fd00::/64"}, {"subnet": "10.0.0.0/24"}]},
            [
                f"spec.prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix, and "
                "IPv4 entries without a prefix of their own inherit it"
            ],
            id="ipv4-entry-inherits-prefix-33",
        ),
        pytest.param(
            {"pools": [{**V4, "gateway": "fd00::1"}]},
            [
                f"spec.pools[0].gateway: {INVALID}gateway fd00::1 and the entry's addresses are "
                "of different IP families"
            ],
            id="gateway-of-the-other-family",
        ),
        pytest.param(
            {"gateway": "10.0.0.1", "pools": [V4, V6]},
            [
                f"spec.gateway: {INVALID}gateway 10.0.0.1 is not of the IP family of the "
                "entries that inherit it (those without a gateway of their own)"
            ],
            id="ipv6-entry-inherits-an-ipv4-gateway",
        ),
        pytest.param(
            {
                "prefix": 40,
                "gateway": "fd00::1",
                "pools": [
                    {"start": "10.0.1.9", "end": "10.0.1.1", "subnet": "10.0.0.0/24"},
                    {"prefix": 24},
                ],
            },
            [
                f"spec.prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix, and "
                "IPv4 entries without a prefix of their own inherit it",
                f"spec.gateway: {INVALID}gateway fd00::1 is not of the IP family of the entries "
                "that inherit it (those without a gateway of their own)",
                f"spec.pools[0].end: {INVALID}end 10.0.1.1 is before start 10.0.1.9",
                f"spec.pools[0].start: {INVALID}start 10.0.1.9 lies outside subnet 10.0.0.0/24",
                f"spec.pools[0].end: {INVALID}end 10.0.1.1 lies outside subnet 10.0.0.0/24",
                f"spec.pools[1]: {INVALID}a pool entry needs at least one of start, end or subnet",
            ],
            id="every-problem-at-once",
        ),
        pytest.param(
            {"pools": [{"start": f"10.0.{i // 256}.{i % 256}"} for i in range(129)]},
            [
                "spec.pools: Too many: 129: must have at most 128 items",
                "<nil>: Invalid value: null: some validation rules were not checked because the "
                "object was invalid; correct the existing errors to complete validation",
            ],
            id="more-than-128-entries",
        ),
    ],
)
def test_the_api_server_refuses_an_invalid_pool_with_these_exact_words(
    source_cluster: Cluster, namespace: str, spec: dict[str, Any], expected: list[str]
) -> None:
    created, stderr = dry_run(source_cluster, pool(namespace, spec))
    assert not created
    assert sorted(refusal(stderr)) == sorted(expected), stderr


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            {
                "pools": [{"start": "192.168.0.10", "end": "192.168.0.50"}],
                "prefix": 24,
                "gateway": "192.168.0.1",
            },
            id="upstream-example",
        ),
        pytest.param({"pools": [{"subnet": "10.0.0.0/24"}]}, id="subnet-only"),
        pytest.param({"pools": [{"subnet": "10.0.0.17/24"}]}, id="host-bits-in-a-subnet"),
        pytest.param({"pools": [{"start": "10.0.0.1"}, {"start": "fd00::"}]}, id="start-only"),
        pytest.param({"pools": [{"end": "10.0.0.9"}]}, id="end-only-as-upstream-accepts"),
        pytest.param({"pools": [{"subnet": "10.0.0.5/32"}]}, id="subnet-only-slash-32"),
        pytest.param({"pools": [{"subnet": "10.0.0.0/24", "end": "10.0.0.9"}]}, id="subnet-end"),
        pytest.param({"pools": [V4, V6]}, id="one-entry-of-each-family"),
        pytest.param({"pools": [{"start": "10.0.0.9", "end": "10.0.0.9"}]}, id="one-address"),
        pytest.param(
            {
                "pools": [
                    {"start": "0.0.0.0", "end": "255.255.255.255"},
                    {"start": "::", "end": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
                ]
            },
            id="whole-families",
        ),
        pytest.param(
            {"pools": [{"start": "10.0.0.2", "end": "10.0.0.3"}, {"start": "::", "end": "::1"}]},
            id="neighbours-in-order",
        ),
        pytest.param(
            {"prefix": 64, "pools": [{**V6}, {**V4, "prefix": 24}]},
            id="long-spec-prefix-that-no-ipv4-entry-inherits",
        ),
        pytest.param(
            {"gateway": "fd00::1", "pools": [V6, {**V4, "gateway": "10.0.0.1"}]},
            id="spec-gateway-that-no-entry-of-the-other-family-inherits",
        ),
        pytest.param(
            {
                "dnsServers": ["8.8.8.8", "2001:4860:4860::8888"],
                "pools": [{**V6, "dnsServers": ["8.8.8.8"]}],
            },
            id="dns-servers-of-either-family",
        ),
        pytest.param({"pools": [{**V4, "prefix": 32}, {**V6, "prefix": 128}]}, id="longest"),
        pytest.param(
            {"pools": [{"start": "::ffff:a00:1", "end": "10.0.0.9"}]},
            id="ipv4-mapped-text-left-to-the-controller",
        ),
        pytest.param({"pools": [{"subnet": "fd00::/05"}]}, id="two-digit-length-as-upstream"),
        pytest.param(
            {"pools": [{"start": f"10.0.0.{i}", "end": f"10.0.0.{i}"} for i in range(128)]},
            id="128-entries",
        ),
    ],
)
def test_the_api_server_accepts_what_upstream_accepts_and_is_valid(
    source_cluster: Cluster, namespace: str, spec: dict[str, Any]
) -> None:
    created, stderr = dry_run(source_cluster, pool(namespace, spec))
    assert created, stderr


def ordered_pairs(seed: int, count: int) -> list[tuple[str, str]]:
    """(start, end) of one family each: near each other (both ways), equal, or far apart."""
    rnd = random.Random(seed)
    pairs = []
    for _ in range(count):
        bits = rnd.choice([32, 128])
        start = rnd.getrandbits(bits)
        end = rnd.choice(
            [
                start,
                start + rnd.randint(-3, 3),
                start ^ (1 << rnd.randrange(bits)),
                rnd.getrandbits(bits),
            ]
        ) % (1 << bits)
        make = ipaddress.IPv4Address if bits == 32 else ipaddress.IPv6Address
        pairs.append((make(start), make(end)))
    # Python's text of an IPv4-mapped IPv6 address is dotted, which the pattern refuses.
    return [
        (a.compressed, b.compressed)
        for a, b in pairs
        if not getattr(a, "ipv4_mapped", None) and not getattr(b, "ipv4_mapped", None)
    ]


def test_start_after_end_is_refused_exactly_when_python_orders_them_so(
    source_cluster: Cluster, namespace: str
) -> None:
    """The prefix-length walk of the CEL rule against ``ipaddress`` ordering, 300 pairs."""
    pairs = ordered_pairs(20260902, 300)
    objects = [pool(namespace, {"pools": [{"start": a, "end": b}]}) for a, b in pairs]
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    proc = source_cluster.kubectl(
        "create", "--dry-run=server", "-f", "-", input=listed, check=False
    )
    accepted = set(re.findall(r"ippool\.ipam\.metal3\.io/(\S+) created", proc.stdout))
    wrong = [
        (a, b)
        for (a, b), obj in zip(pairs, objects, strict=True)
        if (obj["metadata"]["name"] in accepted)
        != (ipaddress.ip_address(a) <= ipaddress.ip_address(b))
    ]
    assert wrong == []
    assert 0 < len(accepted) < len(pairs)


# -- every pool of examples/, scenarios/ and conformance/cases/ -------------------------------


def _ippools(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("kind") == "IPPool" and isinstance(node.get("spec"), dict):
            yield node
        for value in node.values():
            yield from _ippools(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ippools(value)


def _merge(target: Any, patch: Any) -> Any:
    """A JSON merge patch (RFC 7386)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _untemplated(value: Any) -> Any:
    return json.loads(re.sub(r"\{\{[^}]*\}\}", "0", json.dumps(value)))


def _without_refused_steps(doc: Any) -> Any:
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list):
        steps = [s for s in doc["steps"] if not (isinstance(s, dict) and "refused" in s)]
        return {**doc, "steps": steps}
    return doc


def shipped_pools() -> list[tuple[str, dict[str, Any]]]:
    """(where, spec) of every IPPool an example, a scenario or a conformance case applies,
    also as a scenario's merge patch leaves it."""
    found = []
    shipped = ("examples", "scenarios", "conformance/cases")
    for path in sorted(p for folder in shipped for p in REPO.glob(f"{folder}/**/*.yaml")):
        where = str(path.relative_to(REPO))
        docs = list(yaml.safe_load_all(path.read_text()))
        # A step that expects a refusal shows a pool the CRD must not accept.
        docs = [_without_refused_steps(doc) for doc in docs]
        specs = {}
        for obj in _ippools(docs):
            if "namePrefix" in obj["spec"]:
                specs[obj["metadata"]["name"]] = obj["spec"]
                found.append((f"{where} {obj['metadata']['name']}", obj["spec"]))
        for doc in docs:
            for step in doc.get("steps", []) if isinstance(doc, dict) else []:
                patch = step.get("patch") if isinstance(step, dict) else None
                target = patch.get("object") if isinstance(patch, dict) else None
                merge = patch.get("merge") if isinstance(patch, dict) else None
                if (
                    isinstance(target, dict)
                    and target.get("kind") == "IPPool"
                    and isinstance(merge, dict)
                    and "spec" in merge
                ):
                    name = target["metadata"]["name"]
                    merged = _merge(specs[name], merge["spec"])
                    found.append((f"{where} {name} patched", merged))
    return [(where, _untemplated(spec)) for where, spec in found]


SHIPPED = shipped_pools()


def test_the_shipped_pools_were_found() -> None:
    assert len(SHIPPED) >= 30
    assert any(where.startswith("examples/") for where, _ in SHIPPED)
    assert any(where.startswith("conformance/") for where, _ in SHIPPED)
    assert any(where.endswith("patched") for where, _ in SHIPPED)


def test_every_pool_of_examples_scenarios_and_conformance_cases_is_still_accepted(
    source_cluster: Cluster, namespace: str
) -> None:
    """One server dry run of them all; each object is named after where it comes from."""
    objects = []
    for index, (where, spec) in enumerate(SHIPPED):
        obj = pool(namespace, {})
        slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")
        obj["metadata"]["name"] = f"{index}-{slug}"[:63].rstrip("-")
        obj["spec"] = spec
        objects.append(obj)
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    proc = source_cluster.kubectl(
        "create", "--dry-run=server", "-f", "-", input=listed, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("created (server dry run)") == len(SHIPPED), proc.stdout


# -- ratcheting: a pool stored before the rules ----------------------------------------------

RATCHET_GROUP = "ratchet.capi-ipam.test"


def _crd_for_group(group: str, *, with_rules: bool) -> dict[str, Any]:
    crd = copy.deepcopy(yaml.safe_load(CRD_FILE.read_text()))
    crd["metadata"] = {"name": f"ippools.{group}"}
    crd["spec"]["group"] = group
    if not with_rules:
        _strip_rules(crd)
    return crd


def _strip_rules(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("x-kubernetes-validations", None)
        node.pop("maxItems", None)
        for value in node.values():
            _strip_rules(value)
    elif isinstance(node, list):
        for value in node:
            _strip_rules(value)


def _apply_crd(cluster: Cluster, crd: dict[str, Any]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(crd))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}")


STORED_BEFORE = {
    "prefix": 33,
    "gateway": "fd00::1",
    "pools": [
        {"start": "10.0.0.9", "end": "10.0.0.1"},
        {"start": "10.0.1.1", "end": "fd00::1"},
        {"subnet": "10.2.0.0/24", "gateway": "fd00::2"},
    ],
}
STORED_PROBLEMS = [
    f"spec.pools[0].end: {INVALID}end 10.0.0.1 is before start 10.0.0.9",
    f"spec.pools[1].end: {INVALID}end fd00::1 and start 10.0.1.1 are of different IP families",
    f"spec.pools[2].gateway: {INVALID}gateway fd00::2 and the entry's addresses are of "
    "different IP families",
]


class StoredPools:
    """Pools stored before the rules existed, in a namespace of their own; one per test."""

    def __init__(self, namespace: str, names: list[str], big: str) -> None:
        self.namespace = namespace
        self.names = names
        self.big = big
        """A valid pool of more entries than ``maxItems`` now allows."""

    def take(self) -> str:
        return self.names.pop()


STORED_COUNT = 12


@pytest.fixture(scope="module")
def stored_before_rules(source_cluster: Cluster) -> Iterator[StoredPools]:
    """Pools of a copy of the IPPool CRD, stored without the rules, which are then added."""
    namespace = f"t-ratchet-{secrets.token_hex(3)}"
    source_cluster.kubectl("create", "namespace", namespace)
    _apply_crd(source_cluster, _crd_for_group(RATCHET_GROUP, with_rules=False))
    try:
        objects = [pool(namespace, STORED_BEFORE, group=RATCHET_GROUP) for _ in range(STORED_COUNT)]
        big_entries = [{"start": f"10.9.{i // 256}.{i % 256}"} for i in range(130)]
        big = pool(namespace, {"pools": big_entries}, group=RATCHET_GROUP)
        listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": [*objects, big]})
        wait_for(
            "the copy of the CRD without rules to serve",
            lambda: (
                source_cluster.kubectl(
                    "apply", "--server-side", "-f", "-", input=listed, check=False
                ).returncode
                == 0
            ),
        )
        _apply_crd(source_cluster, _crd_for_group(RATCHET_GROUP, with_rules=True))
        fresh = pool(namespace, STORED_BEFORE, group=RATCHET_GROUP)
        wait_for("the rules to apply", lambda: not dry_run(source_cluster, fresh)[0])
        names = [obj["metadata"]["name"] for obj in objects]
        yield StoredPools(namespace, names, big["metadata"]["name"])
    finally:
        source_cluster.kubectl(
            "delete", "crd", f"ippools.{RATCHET_GROUP}", "--wait=false", check=False
        )
        source_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def patch(cluster: Cluster, stored: StoredPools, *args: str) -> tuple[bool, str]:
    """Patch one of the stored pools (each test edits its own)."""
    resource = f"ippools.{RATCHET_GROUP}"
    name = stored.take()
    proc = cluster.kubectl("patch", resource, name, "-n", stored.namespace, *args, check=False)
    return proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(["--type=merge", "-p", '{"metadata": {"labels": {"x": "y"}}}'], id="label"),
        pytest.param(
            ["--type=merge", "-p", '{"metadata": {"annotations": {"a.b/c": "d"}}}'], id="annotation"
        ),
        pytest.param(
            ["--subresource=status", "--type=merge", "-p", '{"status": {"used": 1}}'], id="status"
        ),
        pytest.param(["--type=merge", "-p", '{"spec": {"clusterName": "c1"}}'], id="clusterName"),
        pytest.param(["--type=merge", "-p", '{"spec": {"dnsServers": ["8.8.8.8"]}}'], id="dns"),
        pytest.param(
            ["--type=merge", "-p", '{"spec": {"preAllocations": {"m": "fd00::5"}}}'],
            id="preAllocations",
        ),
    ],
)
def test_a_pool_stored_before_the_rules_stays_editable_where_the_rules_do_not_look(
    source_cluster: Cluster, stored_before_rules: StoredPools, change: list[str]
) -> None:
    done, stderr = patch(source_cluster, stored_before_rules, *change)
    assert done, stderr
    # The API server still names the entries' problems, as warnings.
    assert all(f"Warning: {line}" in stderr for line in STORED_PROBLEMS), stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            '{"spec": {"prefix": 34}}',
            [
                f"spec.prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix, and "
                "IPv4 entries without a prefix of their own inherit it"
            ],
            id="another-invalid-prefix",
        ),
        pytest.param(
            '{"spec": {"gateway": "fd00::2"}}',
            [
                f"spec.gateway: {INVALID}gateway fd00::2 is not of the IP family of the entries "
                "that inherit it (those without a gateway of their own)"
            ],
            id="another-gateway-of-the-other-family",
        ),
        pytest.param(
            '{"spec": {"pools": '
            + json.dumps(
                [
                    *STORED_BEFORE["pools"],
                    {"subnet": "10.3.0.0/24", "prefix": 24, "gateway": "10.3.0.1"},
                ]
            )
            + "}}",
            [
                f"spec.prefix: {INVALID}prefix is longer than 32, the longest IPv4 prefix, and "
                "IPv4 entries without a prefix of their own inherit it",
                f"spec.gateway: {INVALID}gateway fd00::1 is not of the IP family of the entries "
                "that inherit it (those without a gateway of their own)",
                *STORED_PROBLEMS,
            ],
            id="an-edit-of-the-entries-is-checked-whole",
        ),
    ],
)
def test_an_edit_of_what_a_rule_reads_must_satisfy_the_rule(
    source_cluster: Cluster, stored_before_rules: StoredPools, change: str, expected: list[str]
) -> None:
    done, stderr = patch(source_cluster, stored_before_rules, "--type=merge", "-p", change)
    assert not done
    assert sorted(refusal(stderr)) == sorted(expected), stderr


def test_a_pool_stored_before_the_rules_can_be_fixed(
    source_cluster: Cluster, stored_before_rules: StoredPools
) -> None:
    fixed = {
        "prefix": 24,
        "gateway": "10.0.0.254",
        "pools": [
            {"start": "10.0.0.1", "end": "10.0.0.9"},
            {"start": "10.0.1.1", "end": "10.0.1.9"},
            {"subnet": "10.2.0.0/24", "gateway": "10.2.0.1"},
        ],
    }
    done, stderr = patch(
        source_cluster, stored_before_rules, "--type=merge", "-p", json.dumps({"spec": fixed})
    )
    assert done, stderr
    assert "Warning" not in stderr


def test_a_pool_stored_with_more_entries_than_now_allowed_stays_editable_elsewhere(
    source_cluster: Cluster, stored_before_rules: StoredPools
) -> None:
    resource = f"ippools.{RATCHET_GROUP}"
    namespace, name = stored_before_rules.namespace, stored_before_rules.big
    labelled = source_cluster.kubectl("label", resource, name, "-n", namespace, "x=y", check=False)
    assert labelled.returncode == 0, labelled.stderr
    grown = source_cluster.kubectl(
        "patch",
        resource,
        name,
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op": "add", "path": "/spec/pools/-", "value": {"start": "10.8.0.1"}}]',
        check=False,
    )
    assert grown.returncode != 0
    assert "spec.pools: Too many: 131: must have at most 128 items" in grown.stderr
