"""What check-move reads: the CRDs clusterctl lists, our objects, and the owner chains above them.

Only what clusterctl itself would look at is read: the CRDs (for their labels), our pools,
claims and addresses, and, kind by kind, the owners their ownerReferences name, up each
chain. An owner of a kind clusterctl does not list is not read, since clusterctl cannot
see it either. Each owner kind is listed once (in the namespace, or everywhere), never
fetched object by object, except Secrets and ConfigMaps, which are read one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ipam.core import move_check, move_graph
from ipam.kube import bodies, client, resources, survey

CRD = resources.Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition"
)
BUILT_IN = {
    ("", "Secret"): resources.Resource("", "v1", "secrets", "Secret"),
    ("", "ConfigMap"): resources.Resource("", "v1", "configmaps", "ConfigMap"),
}


@dataclass(frozen=True)
class Listed:
    """A kind clusterctl lists, and where to read its objects."""

    kind: move_graph.Kind
    resource: resources.Resource
    namespaced: bool


@dataclass(frozen=True)
class Facts:
    """Everything the move rules judge, with the graph that says what clusterctl moves."""

    pools: tuple[move_check.Object, ...]
    claims: tuple[move_check.Claim, ...]
    addresses: tuple[move_check.Address, ...]
    graph: move_graph.Graph

    def findings(self) -> list[move_check.Finding]:
        return move_check.check(self.pools, self.claims, self.addresses, self.graph)


async def read(api: client.Client, namespace: str | None) -> Facts:
    """The facts of ``namespace`` (every namespace when None)."""
    listed = await listed_kinds(api)
    found = await survey.read(api, namespace)
    pools = [_object(resources.IPPOOL, p.meta) for p in found.pools]
    claims = [
        move_check.Claim(
            object=_object(c.flavour.claim, c.meta),
            claim_kind=c.flavour.kind,
            pool=c.pool_name,
            ours=c.served,
            finalizers=c.meta.finalizers,
            our_finalizer=c.flavour.claim_finalizer,
        )
        for c in found.claims
    ]
    addresses = [
        move_check.Address(
            object=_object(a.flavour.address, a.meta),
            claim_kind=a.flavour.kind,
            pool=a.pool_name,
            claim=a.claim_name,
            address=a.address,
        )
        for a in found.addresses
    ]
    nodes = {
        node.uid: node
        for node in (
            *(_node(resources.IPPOOL, p.meta) for p in found.pools),
            *(_node(c.flavour.claim, c.meta) for c in found.claims),
            *(_node(a.flavour.address, a.meta) for a in found.addresses),
        )
    }
    await _read_owners(api, namespace, listed, nodes)
    graph = move_graph.Graph((entry.kind for entry in listed.values()), nodes.values())
    return Facts(tuple(pools), tuple(claims), tuple(addresses), graph)


async def listed_kinds(api: client.Client) -> dict[move_graph.GroupKind, Listed]:
    """The kinds clusterctl lists: CRDs carrying its label, plus Secrets and ConfigMaps."""
    found: dict[move_graph.GroupKind, Listed] = {
        kind.key: Listed(kind, BUILT_IN[kind.key], namespaced=True)
        for kind in move_graph.always_listed()
    }
    for body in await api.list_objects(CRD):
        spec = bodies.as_map(body.get("spec"))
        names = bodies.as_map(spec.get("names"))
        group, kind, plural = (
            _text(spec.get("group")),
            _text(names.get("kind")),
            _text(names.get("plural")),
        )
        version = _served_version(spec.get("versions"))
        rule = move_graph.listed_kind(group, kind, bodies.meta_of(body).labels)
        if rule is None or not (group and kind and plural and version):
            continue
        resource = resources.Resource(group, version, plural, kind)
        found[rule.key] = Listed(rule, resource, namespaced=spec.get("scope") != "Cluster")
    return found


def _served_version(versions: object) -> str:
    """The storage version if it is served, else the first served one."""
    if not isinstance(versions, list):
        return ""
    served = [v for v in versions if isinstance(v, Mapping) and v.get("served") is not False]
    for version in served:
        if version.get("storage") is True:
            return _text(version.get("name"))
    return _text(served[0].get("name")) if served else ""


async def _read_owners(
    api: client.Client,
    namespace: str | None,
    listed: Mapping[move_graph.GroupKind, Listed],
    nodes: dict[str, move_graph.Node],
) -> None:
    """Add to ``nodes`` every owner clusterctl could see, up every chain."""
    listings: dict[move_graph.GroupKind, dict[str, move_graph.Node]] = {}
    todo = [(node.namespace, owner) for node in nodes.values() for owner in node.owners]
    while todo:
        where, owner = todo.pop()
        key = (owner.group, owner.kind)
        if owner.uid in nodes or key not in listed:
            continue
        entry = listed[key]
        if key in BUILT_IN:
            body = await api.get(entry.resource, where, owner.name)
            node = _node(entry.resource, bodies.meta_of(body)) if body is not None else None
            found = node if node is not None and node.uid == owner.uid else None
        else:
            if key not in listings:
                listings[key] = await _listing(api, entry, namespace)
            found = listings[key].get(owner.uid)
        if found is not None:
            nodes[found.uid] = found
            todo.extend((found.namespace, upper) for upper in found.owners)


async def _listing(
    api: client.Client, entry: Listed, namespace: str | None
) -> dict[str, move_graph.Node]:
    """Every object of a listed kind in scope, by uid; none when the kind is gone meanwhile."""
    try:
        items = await api.list_objects(entry.resource, namespace if entry.namespaced else None)
    except client.KubeError as err:
        if err.status == 404:
            return {}
        raise
    found = (_node(entry.resource, bodies.meta_of(body)) for body in items)
    return {node.uid: node for node in found}


def _object(resource: resources.Resource, meta: bodies.Meta) -> move_check.Object:
    return move_check.Object(resource.group, resource.kind, meta.namespace, meta.name, meta.uid)


def _node(resource: resources.Resource, meta: bodies.Meta) -> move_graph.Node:
    return move_graph.Node(
        group=resource.group,
        kind=resource.kind,
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        labels=meta.labels,
        owners=tuple(
            move_graph.Owner(
                group=move_graph.group_of(_text(ref.get("apiVersion"))),
                kind=_text(ref.get("kind")),
                name=_text(ref.get("name")),
                uid=_text(ref.get("uid")),
            )
            for ref in meta.owner_references
        ),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
