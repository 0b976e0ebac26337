"""The kinds a conformance case touches, by the one short name cases and reports use for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A namespaced resource: its short name in cases and reports, and where the API serves it."""

    alias: str
    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str, name: str | None = None) -> str:
        prefix = "/api" if not self.group else "/apis"
        base = f"{prefix}/{self.api_version}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{name}" if name else base


KINDS = (
    Kind("IPPool", "ipam.metal3.io/v1alpha1", "IPPool", "ippools"),
    Kind("IPClaim", "ipam.metal3.io/v1alpha1", "IPClaim", "ipclaims"),
    Kind("IPAddress", "ipam.metal3.io/v1alpha1", "IPAddress", "ipaddresses"),
    Kind("IPAddressClaim", "ipam.cluster.x-k8s.io/v1beta2", "IPAddressClaim", "ipaddressclaims"),
    Kind("CAPIIPAddress", "ipam.cluster.x-k8s.io/v1beta2", "IPAddress", "ipaddresses"),
    Kind("Cluster", "cluster.x-k8s.io/v1beta2", "Cluster", "clusters"),
)
"""Every kind a snapshot reads. ``IPAddress`` is Metal3's; Cluster API's is ``CAPIIPAddress``."""

EVENTS = Kind("Event", "v1", "Event", "events")
BY_ALIAS = {kind.alias: kind for kind in KINDS}


class UnknownKind(ValueError):
    """A case names a kind outside :data:`KINDS`."""


def of_manifest(manifest: dict[str, object]) -> Kind:
    """The kind of a manifest, from its apiVersion group and kind (any served version)."""
    api_version, kind = str(manifest.get("apiVersion", "")), str(manifest.get("kind", ""))
    group = api_version.rpartition("/")[0]
    for candidate in KINDS:
        if candidate.kind == kind and candidate.group == group:
            return candidate
    raise UnknownKind(f"{api_version} {kind} is not a kind conformance cases use")


def of_alias(alias: str) -> Kind:
    try:
        return BY_ALIAS[alias]
    except KeyError:
        known = ", ".join(BY_ALIAS)
        raise UnknownKind(f"unknown kind {alias!r} (known: {known})") from None


@dataclass(frozen=True)
class Ref:
    """``Kind/name`` as cases write it."""

    kind: Kind
    name: str

    @classmethod
    def parse(cls, text: str) -> Ref:
        alias, slash, name = text.partition("/")
        if not slash or not name:
            raise UnknownKind(f"{text!r} is not Kind/name")
        return cls(of_alias(alias), name)

    def __str__(self) -> str:
        return f"{self.kind.alias}/{self.name}"
