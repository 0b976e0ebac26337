"""Which objects ``clusterctl move`` carries: its discovery and ordering rules replayed over facts.

The rules, as clusterctl (v1.14) applies them:

1. It lists only the kinds whose CRD carries the label ``clusterctl.cluster.x-k8s.io``
   (``clusterctl init`` stamps it), plus Secrets and ConfigMaps. An object of any other
   kind is invisible to it, and so is an owner of such a kind.
2. An object is a candidate when its kind's CRD, or the object itself, carries
   ``clusterctl.cluster.x-k8s.io/move`` or ``.../move-hierarchy``, or when an owner chain
   leads up to an object whose CRD or labels say ``move-hierarchy`` (Cluster, ClusterClass
   and ClusterResourceSet always do).
3. Objects are created on the target owners first, and an object is placed only once
   **all** of its owners are placed. An object with one owner that is not moved (missing,
   replaced under the same name, invisible, or itself left behind) is silently left behind.

Soft ownership (a Cluster's Secrets by name, a Cluster's ClusterClass) is not replayed:
the soft owners clusterctl knows always move.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DISCOVERY_LABEL = "clusterctl.cluster.x-k8s.io"
MOVE_LABEL = "clusterctl.cluster.x-k8s.io/move"
MOVE_HIERARCHY_LABEL = "clusterctl.cluster.x-k8s.io/move-hierarchy"
HIERARCHY_ROOTS = frozenset(
    {
        ("cluster.x-k8s.io", "Cluster"),
        ("cluster.x-k8s.io", "ClusterClass"),
        ("addons.cluster.x-k8s.io", "ClusterResourceSet"),
    }
)
ALWAYS_LISTED = (("", "Secret"), ("", "ConfigMap"))

# Why an object stays behind.
NOT_LISTED = "not-listed"
NOT_COVERED = "not-covered"
OWNER_MISSING = "owner-missing"
OWNER_NOT_LISTED = "owner-not-listed"
OWNER_STAYS = "owner-stays"
OWNER_CYCLE = "owner-cycle"

GroupKind = tuple[str, str]


@dataclass(frozen=True)
class Kind:
    """A kind clusterctl lists, and what its CRD's labels make of every object of it."""

    group: str
    kind: str
    move: bool
    move_hierarchy: bool

    @property
    def key(self) -> GroupKind:
        return (self.group, self.kind)


def listed_kind(group: str, kind: str, crd_labels: Mapping[str, str]) -> Kind | None:
    """What clusterctl makes of a CRD: None when it does not list the kind at all."""
    if DISCOVERY_LABEL not in crd_labels:
        return None
    hierarchy = (group, kind) in HIERARCHY_ROOTS or MOVE_HIERARCHY_LABEL in crd_labels
    return Kind(group, kind, move=hierarchy or MOVE_LABEL in crd_labels, move_hierarchy=hierarchy)


def always_listed() -> list[Kind]:
    """The built-in kinds clusterctl lists besides the labelled CRDs."""
    return [Kind(group, kind, move=False, move_hierarchy=False) for group, kind in ALWAYS_LISTED]


@dataclass(frozen=True)
class Owner:
    """One ownerReference: clusterctl follows it by ``uid`` only."""

    group: str
    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class Node:
    """An object as clusterctl sees it: identity, its own move labels, its owners."""

    group: str
    kind: str
    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str]
    owners: tuple[Owner, ...]

    @property
    def key(self) -> GroupKind:
        return (self.group, self.kind)


@dataclass(frozen=True)
class Verdict:
    """Whether an object moves; if not, the first reason found (``cause``) and its ``detail``."""

    moves: bool
    cause: str = ""
    detail: str = ""


MOVES = Verdict(True)


def group_of(api_version: str) -> str:
    """The API group of an ``apiVersion`` (empty for the core group's ``v1``)."""
    return api_version.rpartition("/")[0]


class Graph:
    """The objects read (ours and their owner chains) under the kinds clusterctl lists."""

    def __init__(self, kinds: Iterable[Kind], nodes: Iterable[Node]) -> None:
        self.kinds = {kind.key: kind for kind in kinds}
        self.nodes = {node.uid: node for node in nodes}
        self._verdicts: dict[str, Verdict] = {}
        self._tenants: set[str] | None = None

    def listed(self, node: Node) -> bool:
        return node.key in self.kinds

    def observed(self, uid: str) -> Node | None:
        """The object of ``uid`` if clusterctl would see it, else None (a "virtual" owner)."""
        node = self.nodes.get(uid)
        return node if node is not None and self.listed(node) else None

    def verdict(self, uid: str) -> Verdict:
        """Whether the object ``uid`` (one of the nodes) would be moved, and if not why."""
        return self._verdict(uid, ())

    def _verdict(self, uid: str, path: tuple[str, ...]) -> Verdict:
        if uid in self._verdicts:
            return self._verdicts[uid]
        node = self.nodes[uid]
        if uid in path:
            return Verdict(False, OWNER_CYCLE, "its ownerReferences form a cycle")
        verdict = self._judge(node, (*path, uid))
        self._verdicts[uid] = verdict
        return verdict

    def _judge(self, node: Node, path: tuple[str, ...]) -> Verdict:
        if not self.listed(node):
            return Verdict(False, NOT_LISTED, _not_listed(node.group, node.kind))
        if not self._forced(node) and not self._has_tenant(node.uid):
            return Verdict(
                False,
                NOT_COVERED,
                f"no owner chain to a Cluster and no {MOVE_LABEL} label on it or its CRD",
            )
        for owner in node.owners:
            found = self.nodes.get(owner.uid)
            named = f"owner {owner.kind} {owner.name}"
            if found is None and (owner.group, owner.kind) in self.kinds:
                return Verdict(False, OWNER_MISSING, f"{named} (uid {owner.uid}) does not exist")
            if found is None or not self.listed(found):
                detail = f"{named}: {_not_listed(owner.group, owner.kind)}"
                return Verdict(False, OWNER_NOT_LISTED, detail)
            upper = self._verdict(owner.uid, path)
            if not upper.moves:
                if upper.cause == OWNER_CYCLE:
                    return upper
                return Verdict(False, OWNER_STAYS, f"{named} stays behind: {upper.detail}")
        return MOVES

    def _forced(self, node: Node) -> bool:
        kind = self.kinds[node.key]
        return kind.move or MOVE_LABEL in node.labels or MOVE_HIERARCHY_LABEL in node.labels

    def _has_tenant(self, uid: str) -> bool:
        """Whether the object or an observed ancestor roots a move hierarchy."""
        if self._tenants is None:
            self._tenants = self._hierarchies()
        return uid in self._tenants

    def _hierarchies(self) -> set[str]:
        """Every observed object reached downwards from a hierarchy root, the roots included."""
        owned: dict[str, list[str]] = {}
        for node in self.nodes.values():
            if self.listed(node):
                for owner in node.owners:
                    owned.setdefault(owner.uid, []).append(node.uid)
        reached: set[str] = set()
        todo = [
            node.uid
            for node in self.nodes.values()
            if self.listed(node)
            and (self.kinds[node.key].move_hierarchy or MOVE_HIERARCHY_LABEL in node.labels)
        ]
        while todo:
            uid = todo.pop()
            if uid not in reached:
                reached.add(uid)
                todo.extend(owned.get(uid, ()))
        return reached


def _not_listed(group: str, kind: str) -> str:
    name = f"{kind}.{group}" if group else kind
    return f"clusterctl does not list {name} (its CRD lacks the label {DISCOVERY_LABEL})"
