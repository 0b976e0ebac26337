"""The CRD manifests in crds/ against the compatibility reference (section 1) and our extras.

The IP and subnet patterns are run with Python's ``re``. The API server runs them with RE2,
with search semantics (an unanchored match), so the patterns keep to syntax that means the
same in RE2, ECMA-262 and Python, and they never see a newline: Python's ``$`` also matches
before a final one, and RE2's does not.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CRDS = Path(__file__).resolve().parents[2] / "crds"
GROUP = "ipam.metal3.io"
FILES = {
    "IPPool": "ipam.metal3.io_ippools.yaml",
    "IPClaim": "ipam.metal3.io_ipclaims.yaml",
    "IPAddress": "ipam.metal3.io_ipaddresses.yaml",
}
KINDS = list(FILES)


@functools.cache
def crd(kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((CRDS / FILES[kind]).read_text()) if d]
    assert len(docs) == 1, f"{FILES[kind]} holds {len(docs)} documents"
    return docs[0]


def version(kind: str) -> dict[str, Any]:
    (only,) = crd(kind)["spec"]["versions"]
    return only


def schema(kind: str) -> dict[str, Any]:
    return version(kind)["schema"]["openAPIV3Schema"]


def node(kind: str, path: str) -> dict[str, Any]:
    """The schema at a dotted path; ``[]`` steps into list items, ``{}`` into map values."""
    current = schema(kind)
    for part in path.split("."):
        name = part.removesuffix("[]").removesuffix("{}")
        current = current["properties"][name]
        if part.endswith("[]"):
            current = current["items"]
        elif part.endswith("{}"):
            current = current["additionalProperties"]
    return current


def walk(schema_node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, schema) below a node, paths written the way ``node`` reads them."""
    for name, child in schema_node.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        yield here, child
        yield from walk(child, here)
        if "items" in child:
            yield f"{here}[]", child["items"]
            yield from walk(child["items"], f"{here}[]")
        if isinstance(child.get("additionalProperties"), dict):
            yield f"{here}{{}}", child["additionalProperties"]
            yield from walk(child["additionalProperties"], f"{here}{{}}")


def rules(kind: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every CEL rule as (path of the node it sits on, that node, the rule)."""
    for path, schema_node in [("", schema(kind)), *walk(schema(kind))]:
        for rule in schema_node.get("x-kubernetes-validations", []):
            yield path, schema_node, rule


# --- names, scope, versions (reference 1.1) -------------------------------------------------


def short_names(stem: str) -> list[str]:
    """The upstream short-name family: ipp, ippool, m3ipp, m3ippool, m3ippools, ..."""
    initials, singular, plural = stem
    return [
        initials,
        singular,
        f"m3{initials}",
        f"m3{singular}",
        f"m3{plural}",
        f"metal3{initials}",
        f"metal3{singular}",
        f"metal3{plural}",
    ]


NAMES = {
    "IPPool": {
        "kind": "IPPool",
        "listKind": "IPPoolList",
        "plural": "ippools",
        "singular": "ippool",
        "shortNames": short_names(("ipp", "ippool", "ippools")),
        "categories": ["cluster-api"],
    },
    "IPClaim": {
        "kind": "IPClaim",
        "listKind": "IPClaimList",
        "plural": "ipclaims",
        "singular": "ipclaim",
        "shortNames": short_names(("ipc", "ipclaim", "ipclaims")),
        "categories": ["cluster-api"],
    },
    "IPAddress": {
        "kind": "IPAddress",
        "listKind": "IPAddressList",
        "plural": "ipaddresses",
        "singular": "ipaddress",
        "shortNames": short_names(("ipa", "ipaddress", "ipaddresses")),
        "categories": ["metal3"],
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_crd_names_match_upstream_exactly(kind: str) -> None:
    names = crd(kind)["spec"]["names"]
    expected = NAMES[kind]
    assert {**names, "shortNames": sorted(names["shortNames"])} == {
        **expected,
        "shortNames": sorted(expected["shortNames"]),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_named_plural_dot_group_and_namespaced(kind: str) -> None:
    doc = crd(kind)
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
    assert doc["kind"] == "CustomResourceDefinition"
    assert doc["spec"]["group"] == GROUP
    assert doc["metadata"]["name"] == f"{NAMES[kind]['plural']}.{GROUP}"
    assert doc["spec"]["scope"] == "Namespaced"


@pytest.mark.parametrize("kind", KINDS)
def test_crd_serves_and_stores_only_v1alpha1(kind: str) -> None:
    versions = crd(kind)["spec"]["versions"]
    assert [(v["name"], v["served"], v["storage"]) for v in versions] == [("v1alpha1", True, True)]


@pytest.mark.parametrize(
    ("kind", "has_status"),
    [
        pytest.param("IPPool", True, id="IPPool has a status subresource"),
        pytest.param("IPClaim", True, id="IPClaim has a status subresource"),
        pytest.param("IPAddress", False, id="IPAddress has no status subresource"),
    ],
)
def test_status_subresource_exists_only_where_upstream_has_one(kind: str, has_status: bool) -> None:
    assert ("status" in version(kind).get("subresources", {})) is has_status
    assert ("status" in schema(kind)["properties"]) is has_status


# --- fields and their types (reference 1.3-1.7, plus our status extras) ---------------------

REF_FIELDS = {"apiVersion", "kind", "name", "namespace", "uid", "resourceVersion", "fieldPath"}

FIELDS = [
    # IPPool spec (1.3) and pool entries (1.4)
    ("IPPool", "spec", "object"),
    ("IPPool", "spec.clusterName", "string"),
    ("IPPool", "spec.namePrefix", "string"),
    ("IPPool", "spec.allocationStrategy", "string"),
    ("IPPool", "spec.pools", "array"),
    ("IPPool", "spec.pools[]", "object"),
    ("IPPool", "spec.pools[].start", "string"),
    ("IPPool", "spec.pools[].end", "string"),
    ("IPPool", "spec.pools[].subnet", "string"),
    ("IPPool", "spec.pools[].prefix", "integer"),
    ("IPPool", "spec.pools[].gateway", "string"),
    ("IPPool", "spec.pools[].dnsServers", "array"),
    ("IPPool", "spec.pools[].dnsServers[]", "string"),
    ("IPPool", "spec.preAllocations", "object"),
    ("IPPool", "spec.preAllocations{}", "string"),
    ("IPPool", "spec.prefix", "integer"),
    ("IPPool", "spec.gateway", "string"),
    ("IPPool", "spec.dnsServers", "array"),
    ("IPPool", "spec.dnsServers[]", "string"),
    # IPPool status: upstream's two fields, then ours
    ("IPPool", "status", "object"),
    ("IPPool", "status.indexes", "object"),
    ("IPPool", "status.indexes{}", "string"),
    ("IPPool", "status.lastUpdated", "string"),
    ("IPPool", "status.total", "integer"),
    ("IPPool", "status.used", "integer"),
    ("IPPool", "status.free", "integer"),
    ("IPPool", "status.capacityOverflow", "boolean"),
    ("IPPool", "status.outOfRange", "integer"),
    ("IPPool", "status.indexesOmitted", "integer"),
    ("IPPool", "status.conditions", "array"),
    # IPClaim (1.6)
    ("IPClaim", "spec", "object"),
    ("IPClaim", "spec.pool", "object"),
    ("IPClaim", "status", "object"),
    ("IPClaim", "status.address", "object"),
    ("IPClaim", "status.errorMessage", "string"),
    ("IPClaim", "status.conditions", "array"),
    # IPAddress (1.7)
    ("IPAddress", "spec", "object"),
    ("IPAddress", "spec.address", "string"),
    ("IPAddress", "spec.pool", "object"),
    ("IPAddress", "spec.claim", "object"),
    ("IPAddress", "spec.prefix", "integer"),
    ("IPAddress", "spec.gateway", "string"),
    ("IPAddress", "spec.dnsServers", "array"),
    ("IPAddress", "spec.dnsServers[]", "string"),
]

OBJECT_REFERENCES = [
    ("IPClaim", "spec.pool"),
    ("IPClaim", "status.address"),
    ("IPAddress", "spec.pool"),
    ("IPAddress", "spec.claim"),
]


@pytest.mark.parametrize(
    ("kind", "path", "type_"),
    [pytest.param(k, p, t, id=f"{k} {p} is {t}") for k, p, t in FIELDS],
)
def test_field_has_the_reference_type(kind: str, path: str, type_: str) -> None:
    assert node(kind, path)["type"] == type_


@pytest.mark.parametrize("kind", KINDS)
def test_spec_and_status_hold_no_field_beyond_the_reference_and_our_extras(kind: str) -> None:
    expected = {p for k, p, _ in FIELDS if k == kind}
    for k, ref in OBJECT_REFERENCES:
        if k == kind:
            expected |= {f"{ref}.{field}" for field in REF_FIELDS}
    found = {
        p
        for p, _ in walk(schema(kind))
        if p.split(".")[0] in ("spec", "status") and not p.startswith("status.conditions[")
    }
    assert found == expected


@pytest.mark.parametrize(
    ("kind", "path"),
    [pytest.param(k, p, id=f"{k} {p} is an ObjectReference") for k, p in OBJECT_REFERENCES],
)
def test_references_have_the_object_reference_shape(kind: str, path: str) -> None:
    ref = node(kind, path)
    assert ref["type"] == "object"
    assert ref["x-kubernetes-map-type"] == "atomic"
    assert {name: p["type"] for name, p in ref["properties"].items()} == dict.fromkeys(
        REF_FIELDS, "string"
    )


@pytest.mark.parametrize(
    ("kind", "path", "required"),
    [
        pytest.param("IPPool", "spec", ["namePrefix"], id="IPPool requires namePrefix"),
        pytest.param("IPClaim", "spec", ["pool"], id="IPClaim requires spec.pool"),
        pytest.param(
            "IPAddress", "spec", ["address", "claim", "pool"], id="IPAddress requires all three"
        ),
    ],
)
def test_required_fields_are_those_of_upstream(kind: str, path: str, required: list[str]) -> None:
    assert sorted(node(kind, path).get("required", [])) == required
    assert "required" not in schema(kind), "spec itself stays optional, as upstream"


def test_name_prefix_must_not_be_empty() -> None:
    assert node("IPPool", "spec.namePrefix")["minLength"] == 1


def test_allocation_strategy_is_sequential_or_random_and_defaults_to_sequential() -> None:
    strategy = node("IPPool", "spec.allocationStrategy")
    assert strategy["enum"] == ["sequential", "random"]
    assert strategy["default"] == "sequential"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        pytest.param("IPPool", "spec.prefix", id="IPPool spec.prefix"),
        pytest.param("IPPool", "spec.pools[].prefix", id="IPPool pool entry prefix"),
        pytest.param("IPAddress", "spec.prefix", id="IPAddress spec.prefix"),
    ],
)
def test_prefix_lies_between_0_and_128(kind: str, path: str) -> None:
    prefix = node(kind, path)
    assert (prefix["type"], prefix["minimum"], prefix["maximum"]) == ("integer", 0, 128)


@pytest.mark.parametrize("field", ["total", "used", "free", "outOfRange", "indexesOmitted"])
def test_pool_counters_are_int64_and_never_negative(field: str) -> None:
    counter = node("IPPool", f"status.{field}")
    assert (counter["format"], counter["minimum"]) == ("int64", 0)


@pytest.mark.parametrize("kind", ["IPPool", "IPClaim"])
def test_conditions_are_standard_conditions_keyed_by_type(kind: str) -> None:
    conditions = node(kind, "status.conditions")
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert sorted(item["required"]) == [
        "lastTransitionTime",
        "message",
        "reason",
        "status",
        "type",
    ]
    assert {name: p["type"] for name, p in item["properties"].items()} == {
        "type": "string",
        "status": "string",
        "reason": "string",
        "message": "string",
        "lastTransitionTime": "string",
        "observedGeneration": "integer",
    }
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"


def test_last_updated_is_a_timestamp() -> None:
    assert node("IPPool", "status.lastUpdated")["format"] == "date-time"


@pytest.mark.parametrize("kind", KINDS)
def test_every_schema_node_is_typed_as_a_structural_schema_requires(kind: str) -> None:
    untyped = [path for path, n in walk(schema(kind)) if "type" not in n]
    assert untyped == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_spec_and_status_field_is_described_for_kubectl_explain(kind: str) -> None:
    undescribed = [
        path
        for path, n in walk(schema(kind))
        if path.split(".")[0] in ("spec", "status")
        and not path.endswith(("[]", "{}"))
        and not n.get("description", "").strip()
    ]
    assert undescribed == []


# --- IP address and subnet patterns (reference 1.2) -----------------------------------------

IP_FIELDS = [
    ("IPPool", "spec.gateway"),
    ("IPPool", "spec.dnsServers[]"),
    ("IPPool", "spec.preAllocations{}"),
    ("IPPool", "spec.pools[].start"),
    ("IPPool", "spec.pools[].end"),
    ("IPPool", "spec.pools[].gateway"),
    ("IPPool", "spec.pools[].dnsServers[]"),
    ("IPPool", "status.indexes{}"),
    ("IPAddress", "spec.address"),
    ("IPAddress", "spec.gateway"),
    ("IPAddress", "spec.dnsServers[]"),
]
IP_PATTERN = node("IPPool", "spec.gateway")["pattern"]
SUBNET_PATTERN = node("IPPool", "spec.pools[].subnet")["pattern"]


def matches(pattern: str, value: str) -> bool:
    """The API server's test: the pattern is found in the value (RE2 search)."""
    return re.search(pattern, value) is not None


@pytest.mark.parametrize(
    ("kind", "path"), [pytest.param(k, p, id=f"{k} {p} is an IP") for k, p in IP_FIELDS]
)
def test_every_ip_field_carries_the_one_ip_pattern(kind: str, path: str) -> None:
    field = node(kind, path)
    assert (field["type"], field["pattern"]) == ("string", IP_PATTERN)
    assert field["maxLength"] == len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")


def test_ip_fields_are_exactly_those_listed() -> None:
    found = {
        (kind, path)
        for kind in KINDS
        for path, n in walk(schema(kind))
        if n.get("pattern") == IP_PATTERN
    }
    assert found == set(IP_FIELDS)


def test_subnet_field_carries_the_subnet_pattern() -> None:
    subnet = node("IPPool", "spec.pools[].subnet")
    assert subnet["type"] == "string"
    assert subnet["maxLength"] == len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128")


@pytest.mark.parametrize("pattern", [IP_PATTERN, SUBNET_PATTERN], ids=["ip", "subnet"])
def test_pattern_uses_only_syntax_shared_by_re2_ecma_and_python(pattern: str) -> None:
    assert pattern[0] + pattern[-1] == "^$", "anchored at both ends"
    # \d, \w, \s mean Unicode classes in Python; lookarounds and backreferences are not RE2.
    for construct in (r"\d", r"\w", r"\s", r"\b", "(?=", "(?!", "(?<", r"\1", "(?P"):
        assert construct not in pattern
    assert re.sub(r"\(\?:", "", pattern).count("(?") == 0, "only non-capturing groups"


IP_ACCEPTED = [
    ("0.0.0.0", "IPv4 all zeros"),
    ("192.168.0.1", "IPv4 private"),
    ("255.255.255.255", "IPv4 broadcast"),
    ("10.0.0.10", "IPv4 two-digit octet"),
    ("1.2.3.4", "IPv4 single digits"),
    ("199.249.250.100", "IPv4 every octet band"),
    ("::", "IPv6 all zeros"),
    ("::1", "IPv6 loopback"),
    ("fe80::1", "IPv6 link-local"),
    ("2001:db8::", "IPv6 ending in ::"),
    ("2001:DB8:0:0:0:0:0:1", "IPv6 upper case uncompressed"),
    ("2001:0db8:0000:0000:0000:0000:0000:0001", "IPv6 fully padded"),
    ("1:2:3:4:5:6:7:8", "IPv6 eight groups"),
    ("1:2:3:4:5:6:7::", "IPv6 seven groups then ::"),
    ("::2:3:4:5:6:7:8", "IPv6 :: then seven groups"),
    ("1:2:3:4:5:6::8", "IPv6 six groups :: one group"),
    ("1::8", "IPv6 one group :: one group"),
    ("fd00::0005", "IPv6 group with leading zeros"),
]
IP_REJECTED = [
    ("", "empty"),
    ("256.0.0.1", "IPv4 octet above 255"),
    ("192.168.01.1", "IPv4 leading zero"),
    ("01.2.3.4", "IPv4 leading zero first octet"),
    ("1.2.3", "IPv4 three octets"),
    ("1.2.3.4.5", "IPv4 five octets"),
    ("1.2.3.-1", "IPv4 negative octet"),
    ("1.2.3.4/24", "IPv4 with a prefix"),
    (" 1.2.3.4", "leading space"),
    ("1.2.3.4 ", "trailing space"),
    ("1:2:3:4:5:6:7:8:9", "IPv6 nine groups"),
    ("1:2:3:4:5:6:7:8::", "IPv6 eight groups and ::"),
    ("::1:2:3:4:5:6:7:8", "IPv6 :: and eight groups"),
    ("1:2:3:4:5:6:7", "IPv6 seven groups without ::"),
    ("1::2::3", "IPv6 two ::"),
    ("12345::1", "IPv6 five-digit group"),
    ("g::1", "IPv6 non-hex digit"),
    (":1", "IPv6 single leading colon"),
    ("1:", "IPv6 single trailing colon"),
    (":::", "IPv6 triple colon"),
    ("::ffff:1.2.3.4", "IPv6 with embedded IPv4"),
    ("fe80::1%eth0", "IPv6 with a zone id"),
    ("[::1]", "IPv6 in brackets"),
    ("2001:db8::/64", "IPv6 with a prefix"),
]


@pytest.mark.parametrize("value", [pytest.param(v, id=f"accepts {why}") for v, why in IP_ACCEPTED])
def test_ip_pattern_accepts(value: str) -> None:
    assert matches(IP_PATTERN, value)


@pytest.mark.parametrize("value", [pytest.param(v, id=f"rejects {why}") for v, why in IP_REJECTED])
def test_ip_pattern_rejects(value: str) -> None:
    assert not matches(IP_PATTERN, value)


SUBNET_ACCEPTED = [
    ("192.168.0.0/24", "IPv4 /24"),
    ("0.0.0.0/0", "IPv4 /0"),
    ("10.0.0.1/32", "IPv4 /32"),
    ("192.168.1.1/26", "IPv4 with host bits set"),
    ("2001:db8::/64", "IPv6 /64"),
    ("::/0", "IPv6 /0"),
    ("fd00::1/128", "IPv6 /128"),
    ("fd00::/119", "IPv6 /119"),
    ("fd00::/05", "IPv6 two-digit prefix with a leading zero, as upstream"),
]
SUBNET_REJECTED = [
    ("192.168.0.0", "IPv4 without prefix"),
    ("192.168.0.0/33", "IPv4 /33"),
    ("192.168.0.0/05", "IPv4 prefix with a leading zero"),
    ("192.168.0.0/", "IPv4 empty prefix"),
    ("10.0.0.0/-1", "IPv4 negative prefix"),
    ("256.0.0.0/8", "IPv4 bad address"),
    ("2001:db8::/129", "IPv6 /129"),
    ("2001:db8::/005", "IPv6 three-digit prefix with leading zeros"),
    ("2001:db8::", "IPv6 without prefix"),
    ("::ffff:1.2.3.4/96", "IPv6 with embedded IPv4"),
    ("/24", "prefix only"),
    ("10.0.0.0/8/8", "two prefixes"),
]


@pytest.mark.parametrize(
    "value", [pytest.param(v, id=f"accepts {why}") for v, why in SUBNET_ACCEPTED]
)
def test_subnet_pattern_accepts(value: str) -> None:
    assert matches(SUBNET_PATTERN, value)


@pytest.mark.parametrize(
    "value", [pytest.param(v, id=f"rejects {why}") for v, why in SUBNET_REJECTED]
)
def test_subnet_pattern_rejects(value: str) -> None:
    assert not matches(SUBNET_PATTERN, value)


def reference_accepts_ip(text: str) -> bool:
    """Reference 1.2 as an oracle: what Python parses, minus zone ids and embedded IPv4."""
    if "%" in text or (":" in text and "." in text):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def reference_accepts_subnet(text: str) -> bool:
    address, slash, length = text.partition("/")
    if not slash or not reference_accepts_ip(address) or not length.isdigit():
        return False
    if ":" in address:
        return len(length) <= 2 or (len(length) == 3 and length[0] == "1" and int(length) <= 128)
    return (length == "0" or not length.startswith("0")) and int(length) <= 32


def near_miss_addresses(rnd: random.Random, count: int) -> Iterator[str]:
    """Strings shaped like addresses: mostly good pieces, put together right or wrong."""
    groups = ["0", "1", "a", "ff", "FFFF", "0db8"]
    bad_groups = ["12345", "g", ""]
    octets = ["0", "9", "10", "99", "100", "199", "249", "255"]
    bad_octets = ["00", "01", "256", ""]

    def pick(good: list[str], bad: list[str]) -> str:
        return rnd.choice(bad if rnd.random() < 0.05 else good)

    for _ in range(count):
        if rnd.random() < 0.5:
            parts = [pick(groups, bad_groups) for _ in range(rnd.randint(1, 9))]
            cut = rnd.randint(0, len(parts))
            joiner = rnd.choice(["::", ":", ":::"])
            yield ":".join(parts[:cut]) + joiner + ":".join(parts[cut:])
        else:
            yield ".".join(pick(octets, bad_octets) for _ in range(rnd.randint(3, 5)))


def test_ip_pattern_agrees_with_the_reference_on_generated_near_misses() -> None:
    rnd = random.Random(20260819)
    disagreements = [
        text
        for text in near_miss_addresses(rnd, 5000)
        if matches(IP_PATTERN, text) != reference_accepts_ip(text)
    ]
    assert disagreements == []


def test_subnet_pattern_agrees_with_the_reference_on_generated_near_misses() -> None:
    rnd = random.Random(20260820)
    lengths = ["0", "05", "8", "24", "32", "33", "64", "099", "100", "128", "129", "", "-1"]
    disagreements = [
        subnet
        for text in near_miss_addresses(rnd, 3000)
        for subnet in [f"{text}/{rnd.choice(lengths)}"]
        if matches(SUBNET_PATTERN, subnet) != reference_accepts_subnet(subnet)
    ]
    assert disagreements == []


def test_ip_pattern_accepts_every_address_python_prints() -> None:
    """Compressed and exploded forms; IPv4-mapped IPv6 is left out (printed with dots)."""
    rnd = random.Random(1)
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    rejected = []
    for _ in range(2000):
        v4 = ipaddress.IPv4Address(rnd.getrandbits(32))
        # Sparse IPv6 addresses, so that runs of zero groups (and ::) are common.
        v6 = ipaddress.IPv6Address(
            sum(rnd.getrandbits(16) << (16 * i) for i in range(8) if rnd.random() < 0.4)
        )
        texts = [str(v4), v6.compressed, v6.exploded] if v6 not in mapped else [str(v4)]
        rejected += [t for t in texts if not matches(IP_PATTERN, t)]
    assert rejected == []


# --- printer columns --------------------------------------------------------------------

AGE = ("Age", "date", ".metadata.creationTimestamp", 0)
PRINTER_COLUMNS = {
    "IPPool": [
        ("Cluster", "string", r".metadata.labels.cluster\.x-k8s\.io/cluster-name", 0),
        AGE,
        ("Total", "integer", ".status.total", 0),
        ("Used", "integer", ".status.used", 0),
        ("Free", "integer", ".status.free", 0),
        ("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', 0),
    ],
    "IPClaim": [
        AGE,
        ("Address", "string", ".status.address.name", 0),
        ("IP", "string", r".metadata.annotations.capi-ipam\.dev/address", 0),
        ("Error", "string", ".status.errorMessage", 1),
    ],
    "IPAddress": [
        AGE,
        ("Address", "string", ".spec.address", 0),
        ("Pool", "string", ".spec.pool.name", 0),
        ("Claim", "string", ".spec.claim.name", 0),
    ],
}


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_keep_upstream_ones_first_then_ours(kind: str) -> None:
    columns = [
        (c["name"], c["type"], c["jsonPath"], c.get("priority", 0))
        for c in version(kind)["additionalPrinterColumns"]
    ]
    assert columns == PRINTER_COLUMNS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_read_fields_that_exist(kind: str) -> None:
    for column in version(kind)["additionalPrinterColumns"]:
        path = column["jsonPath"]
        if path.startswith((".spec.", ".status.")):
            field = re.sub(r"\[\?.*?\]", "[]", path[1:])
            walked = node(kind, field.split("[]")[0])
            assert walked, path


# --- CEL rules -------------------------------------------------------------------------------

IMMUTABLE_REF_FIELDS = ["name", "namespace", "kind"]
CEL_RULES = [
    ("IPPool", "spec.namePrefix", "self == oldSelf", "spec.namePrefix cannot be changed"),
    ("IPPool", "spec", "oldSelf.allocationStrategy", "spec.allocationStrategy cannot be changed"),
    ("IPPool", "spec.pools[]", "has(self.subnet)", "at least one of start, end or subnet"),
    # Entry rules of ipam/core/entries.py that CEL can say (crds/README.md lists them).
    ("IPPool", "spec.pools[]", "ip(self.start).family() == ip(self.end)", "different IP families"),
    ("IPPool", "spec.pools[]", "== cidr(self.subnet).ip().family()", "different IP families"),
    ("IPPool", "spec.pools[]", "has(self.start) || !has(self.end)", "different IP families"),
    ("IPPool", "spec.pools[]", ".exists(p, int(p.substring(", "end is before start"),
    ("IPPool", "spec.pools[]", "containsIP(self.start)", "start lies outside subnet"),
    ("IPPool", "spec.pools[]", "containsIP(self.end)", "end lies outside subnet"),
    ("IPPool", "spec.pools[]", "self.prefix <= 32", "longer than 32, the longest IPv4 prefix"),
    ("IPPool", "spec.pools[]", "ip(self.gateway).family()", "different IP families"),
    ("IPPool", "spec", "e.prefix != 0", "IPv4 entries without a prefix of their own inherit"),
    ("IPPool", "spec", "self.pools.all(e, has(e.gateway)", "entries that inherit it"),
    ("IPClaim", "spec.pool", "self.name != ''", "spec.pool.name must name an IPPool"),
    ("IPAddress", "spec.address", "self == oldSelf", "spec.address cannot be changed"),
    ("IPAddress", "spec.pool", "self.name != ''", "spec.pool.name must name an IPPool"),
    ("IPAddress", "spec.claim", "self.name != ''", "spec.claim.name must name a claim"),
    *[
        (kind, ref, f"oldSelf.{'__namespace__' if f == 'namespace' else f}", f"{msg}.{f} cannot")
        for kind, ref, msg in [
            ("IPClaim", "spec.pool", "spec.pool"),
            ("IPAddress", "spec.pool", "spec.pool"),
            ("IPAddress", "spec.claim", "spec.claim"),
        ]
        for f in IMMUTABLE_REF_FIELDS
    ],
]


@pytest.mark.parametrize(
    ("kind", "path", "fragment", "message"),
    [pytest.param(*row, id=f"{row[0]} {row[3]}") for row in CEL_RULES],
)
def test_cel_rule_is_present_with_its_message(
    kind: str, path: str, fragment: str, message: str
) -> None:
    found = [
        r for r in node(kind, path).get("x-kubernetes-validations", []) if fragment in r["rule"]
    ]
    assert [r for r in found if message in r["message"]], found


@pytest.mark.parametrize("kind", KINDS)
def test_cel_rules_are_exactly_the_listed_ones(kind: str) -> None:
    listed = sum(1 for row in CEL_RULES if row[0] == kind)
    assert len(list(rules(kind))) == listed


def test_strategy_rule_treats_an_absent_strategy_as_sequential() -> None:
    (rule,) = [
        r for r in node("IPPool", "spec")["x-kubernetes-validations"] if "Strategy" in r["rule"]
    ]
    for side in ("self", "oldSelf"):
        assert (
            f"(has({side}.allocationStrategy) ? {side}.allocationStrategy : 'sequential')"
            in " ".join(rule["rule"].split())
        )


CEL_RESERVED = {
    "as", "break", "const", "continue", "else", "false", "for", "function", "if", "import",
    "in", "let", "loop", "namespace", "null", "package", "return", "true", "var", "void",
    "while",
}  # fmt: skip


def fields_read(rule: str) -> set[str]:
    """Fields of the rule's own node it reads, through ``self`` or ``oldSelf`` (optional too)."""
    return set(re.findall(r"\b(?:self|oldSelf|oldSelf\.value\(\))\.(\w+)\b(?!\()", rule))


def item_fields_read(rule: str) -> dict[str, set[str]]:
    """Per list field iterated (``self.pools.all(e, ...)``), the item fields read (``e.start``)."""
    read: dict[str, set[str]] = {}
    for field, var in re.findall(
        r"\bself\.(\w+)\.(?:all|exists|exists_one|map|filter)\((\w+),", rule
    ):
        read.setdefault(field, set()).update(re.findall(rf"\b{var}\.(\w+)\b(?!\()", rule))
    return read


@pytest.mark.parametrize("kind", KINDS)
def test_cel_rules_escape_reserved_words_as_kubernetes_requires(kind: str) -> None:
    """``self.namespace`` compiles to a field the API server cannot cost: ``__namespace__``."""
    plain = [
        (path, r["rule"]) for path, _, r in rules(kind) if fields_read(r["rule"]) & CEL_RESERVED
    ]
    assert plain == []


def unescape(name: str) -> str:
    return name[2:-2] if name.startswith("__") and name.endswith("__") else name


@pytest.mark.parametrize("kind", KINDS)
def test_every_string_a_cel_rule_reads_is_bounded_so_its_cost_is(kind: str) -> None:
    unbounded = []
    for path, schema_node, rule in rules(kind):
        read = [schema_node["properties"][unescape(f)] for f in fields_read(rule["rule"])]
        for field, item_fields in item_fields_read(rule["rule"]).items():
            items = schema_node["properties"][field]["items"]["properties"]
            read += [items[unescape(f)] for f in item_fields]
        targets = read or [schema_node]
        unbounded += [
            (path, rule["rule"]) for t in targets if t["type"] == "string" and "maxLength" not in t
        ]
    assert unbounded == []


def enclosing_lists(kind: str, path: str) -> list[str]:
    """The list fields above a node, written as ``node`` reads them (``spec.pools``)."""
    parts = path.split(".")
    return [".".join(parts[: i + 1])[:-2] for i, part in enumerate(parts) if part.endswith("[]")]


@pytest.mark.parametrize("kind", KINDS)
def test_every_list_a_cel_rule_runs_under_or_iterates_has_max_items(kind: str) -> None:
    """The estimated cost of a rule is multiplied by how many times it can run: bound it."""
    unbounded = []
    for path, schema_node, rule in rules(kind):
        lists = [node(kind, p) for p in enclosing_lists(kind, path)]
        lists += [schema_node["properties"][f] for f in item_fields_read(rule["rule"])]
        unbounded += [(path, rule["rule"][:60]) for n in lists if "maxItems" not in n]
    assert unbounded == []


def guarded_calls(rule: str) -> list[tuple[str, str]]:
    """Every ``ip(x)`` and ``cidr(x)`` on a field, and whether ``isIP(x)``/``isCIDR(x)`` guards it."""
    unguarded = []
    for function, guard in (("ip", "isIP"), ("cidr", "isCIDR")):
        for argument in set(re.findall(rf"\b{function}\(((?:self|e)\.\w+)\)", rule)):
            if f"{guard}({argument})" not in rule:
                unguarded.append((function, argument))
    return unguarded


@pytest.mark.parametrize("kind", KINDS)
def test_ip_and_cidr_are_only_called_on_values_they_parse(kind: str) -> None:
    """The patterns accept values the CEL library refuses (``::ffff:a00:1``, ``fd00::/05``);
    calling ip() or cidr() on those would fail the rule, so each call is guarded."""
    assert [
        (path, call) for path, _, rule in rules(kind) for call in guarded_calls(rule["rule"])
    ] == []


def test_the_guard_check_finds_an_unguarded_call() -> None:
    assert guarded_calls("ip(self.start).family() == 4") == [("ip", "self.start")]
    assert guarded_calls("!isIP(self.start) || ip(self.start).family() == 4") == []


def test_the_order_rule_walks_every_prefix_length_once() -> None:
    """start <= end walks the pairs (l, l + 1) for l in 0..127, written out as 'l,m' strings."""
    (rule,) = [
        r
        for r in node("IPPool", "spec.pools[]")["x-kubernetes-validations"]
        if ".exists(p, int(p.substring(" in r["rule"]
    ]
    pairs = re.findall(r"'(\d+),(\d+)'", rule["rule"])
    assert [(int(short), int(long)) for short, long in pairs] == [(n, n + 1) for n in range(128)]


@pytest.mark.parametrize("kind", KINDS)
def test_rules_reading_an_optional_old_self_declare_it(kind: str) -> None:
    for path, _, rule in rules(kind):
        assert ("oldSelf.hasValue()" in rule["rule"]) == rule.get("optionalOldSelf", False), path


@pytest.mark.parametrize("kind", KINDS)
def test_every_cel_rule_has_a_message_and_a_field_path_that_exists(kind: str) -> None:
    for path, schema_node, rule in rules(kind):
        assert rule.get("message", "").strip(), (path, rule)
        if "fieldPath" in rule:
            assert rule["fieldPath"].lstrip(".") in schema_node["properties"], (path, rule)


@pytest.mark.parametrize("kind", KINDS)
def test_transition_rules_sit_where_the_old_value_always_exists(kind: str) -> None:
    """A transition rule on an optional field is skipped when the field appears or vanishes;
    such rules must sit on a required field, or on the parent and use has()."""
    for path, _, rule in rules(kind):
        if "oldSelf" not in rule["rule"] or not path or rule.get("optionalOldSelf"):
            continue
        parent_path, _, name = path.rpartition(".")
        parent = node(kind, parent_path) if parent_path else schema(kind)
        read = fields_read(rule["rule"])
        guarded = bool(read) and all(f"has(oldSelf.{f})" in rule["rule"] for f in read)
        assert name in parent.get("required", []) or guarded, (path, rule)


# --- labels --------------------------------------------------------------------------------

COMMON_LABELS = {"cluster.x-k8s.io/provider": "ipam-metal3", "cluster.x-k8s.io/v1beta2": "v1alpha1"}
MOVE_LABELS = {
    "IPPool": {"clusterctl.cluster.x-k8s.io/move-hierarchy": ""},
    "IPClaim": {"clusterctl.cluster.x-k8s.io/move": ""},
    "IPAddress": {"clusterctl.cluster.x-k8s.io/move": ""},
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("IPPool", id="IPPool moves with everything it owns, clusterName or not"),
        pytest.param("IPClaim", id="IPClaim moves even when nothing owns it"),
        pytest.param("IPAddress", id="IPAddress moves even when nothing owns it"),
    ],
)
def test_crd_labels_let_clusterctl_move_find_every_object(kind: str) -> None:
    assert crd(kind)["metadata"]["labels"] == COMMON_LABELS | MOVE_LABELS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_contract_label_names_a_version_the_crd_serves(kind: str) -> None:
    served = {v["name"] for v in crd(kind)["spec"]["versions"] if v["served"]}
    labels = crd(kind)["metadata"]["labels"]
    contract = {k: v for k, v in labels.items() if re.fullmatch(r"cluster\.x-k8s\.io/v\w+", k)}
    assert contract, "a CAPI contract label is needed"
    for value in contract.values():
        assert set(value.split("_")) <= served


# --- whole objects against the schema ------------------------------------------------------


def upstream_example_pool() -> dict[str, Any]:
    """The pool of upstream's examples/ippool (reference 6.2)."""
    return {
        "spec": {
            "namePrefix": "pool1-prov",
            "pools": [{"start": "192.168.0.10", "end": "192.168.0.50"}],
            "prefix": 24,
            "gateway": "192.168.0.1",
        }
    }


OBJECTS = [
    ("IPPool", upstream_example_pool(), True, "the upstream example pool is valid"),
    (
        "IPPool",
        {
            "spec": {
                "clusterName": "c1",
                "namePrefix": "v6",
                "allocationStrategy": "random",
                "pools": [
                    {"subnet": "2001:db8::/64", "prefix": 64, "gateway": "2001:db8::1"},
                    {"start": "fd00::10", "end": "fd00::ff", "dnsServers": ["fd00::53"]},
                ],
                "preAllocations": {"host-0-pool": "fd00::10"},
                "dnsServers": ["8.8.8.8", "2001:4860:4860::8888"],
            },
            "status": {
                "indexes": {"host-0-pool": "fd00::10", "": "fd00::11"},
                "lastUpdated": "2026-01-01T00:00:00Z",
                "total": 9223372036854775807,
                "used": 2,
                "free": 9223372036854775805,
                "capacityOverflow": True,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "PoolReady",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            },
        },
        True,
        "a dual-range IPv6 pool with status is valid",
    ),
    ("IPPool", {}, True, "a pool without spec is accepted, as upstream"),
    ("IPPool", {"spec": {"namePrefix": ""}}, False, "an empty namePrefix is rejected"),
    ("IPPool", {"spec": {"pools": []}}, False, "a missing namePrefix is rejected"),
    (
        "IPPool",
        {"spec": {"namePrefix": "p", "allocationStrategy": "roundrobin"}},
        False,
        "an unknown strategy is rejected",
    ),
    ("IPPool", {"spec": {"namePrefix": "p", "prefix": 129}}, False, "prefix 129 is rejected"),
    ("IPPool", {"spec": {"namePrefix": "p", "prefix": -1}}, False, "a negative prefix is rejected"),
    (
        "IPPool",
        {"spec": {"namePrefix": "p", "preAllocations": {"c": "10.0.0.256"}}},
        False,
        "a bad pre-allocated address is rejected",
    ),
    (
        "IPPool",
        {"spec": {"namePrefix": "p", "pools": [{"subnet": "10.0.0.0/33"}]}},
        False,
        "a bad subnet is rejected",
    ),
    (
        "IPPool",
        {"status": {"conditions": [{"type": "Ready", "status": "Yes"}]}},
        False,
        "a condition without reason or a valid status is rejected",
    ),
    ("IPClaim", {"spec": {"pool": {"name": "pool1"}}}, True, "a claim naming a pool is valid"),
    (
        "IPClaim",
        {
            "spec": {"pool": {"name": "pool1", "namespace": "ns", "kind": "IPPool"}},
            "status": {
                "address": {"name": "pool1-prov-192-168-0-10", "namespace": "ns"},
                "errorMessage": "",
            },
        },
        True,
        "a bound claim is valid",
    ),
    ("IPClaim", {"spec": {}}, False, "a claim without a pool is rejected"),
    (
        "IPAddress",
        {
            "spec": {
                "address": "192.168.0.10",
                "pool": {"name": "pool1", "namespace": "ns"},
                "claim": {"name": "claim1", "namespace": "ns"},
                "prefix": 24,
                "gateway": "192.168.0.1",
                "dnsServers": ["192.168.0.1"],
            }
        },
        True,
        "an address as upstream writes it is valid",
    ),
    (
        "IPAddress",
        {"spec": {"address": "192.168.0.10", "pool": {"name": "p"}}},
        False,
        "an address without claim is rejected",
    ),
    (
        "IPAddress",
        {"spec": {"address": "::ffff:1.2.3.4", "pool": {"name": "p"}, "claim": {"name": "c"}}},
        False,
        "an address with embedded IPv4 is rejected",
    ),
]


@pytest.mark.parametrize(
    ("kind", "body", "valid"),
    [pytest.param(kind, body, valid, id=why) for kind, body, valid, why in OBJECTS],
)
def test_objects_validate_against_the_schema(kind: str, body: dict[str, Any], valid: bool) -> None:
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind, "metadata": {"name": "x"}, **body}
    errors = list(jsonschema.Draft7Validator(schema(kind)).iter_errors(obj))
    assert (errors == []) is valid, [e.message for e in errors]
