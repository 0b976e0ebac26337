"""An in-memory API server behind :class:`ipam.kube.api.Api`, for exact interleavings.

It keeps what a client of a real server relies on: resourceVersions, uids, the status
subresource, finalizers holding a deletion (``deletionTimestamp``), AlreadyExists on create,
Conflict on a stale resourceVersion, 404 as None, and a watch stream of every change.
Hooks run just after a chosen write, so a test can make the world move between two of the
controller's writes (a user deleting a claim, say). Every behaviour tested with it is also
tested against a real API server; this only makes races reproducible in milliseconds.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ipam.kube import client
from ipam.kube.resources import Resource

Key = tuple[str, str, str, str]
"""(group, plural, namespace, name)."""
Hook = Callable[[str, Resource, str, str], Awaitable[None]]


@dataclass
class WatchEvent:
    type: str
    resource: Resource
    body: dict[str, Any]


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclass
class FakeApi:
    """The objects of one pretend cluster, and what happened to them."""

    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    events: list[WatchEvent] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)
    writes: list[tuple[str, str, str]] = field(default_factory=list)
    """(verb, plural, name) of every write, in order (Events apart)."""
    event_writes: list[tuple[str, str]] = field(default_factory=list)
    """(verb, name) of every Event write, in order."""
    after: list[Hook] = field(default_factory=list)
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def server(self) -> str:
        return "https://fake"

    # --- helpers for tests ---------------------------------------------------------------------

    def put(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object as a user would (no hooks); returns it as stored."""
        stored = self._store_new(resource, body)
        return copy.deepcopy(stored)

    def find(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get(self._key(resource, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def all(self, resource: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(body)
            for (group, plural, ns, _), body in sorted(self.objects.items())
            if (group, plural) == (resource.group, resource.plural) and namespace in (None, ns)
        ]

    def remove_outright(self, resource: Resource, namespace: str, name: str) -> None:
        """Make an object vanish whatever its finalizers (the delete-versus-finalizer race)."""
        body = self.objects.pop(self._key(resource, namespace, name), None)
        if body is not None:
            self.events.append(WatchEvent("DELETED", resource, copy.deepcopy(body)))

    def user_delete(self, resource: Resource, namespace: str, name: str) -> None:
        """Delete as a user does: finalizers hold the object with a deletionTimestamp."""
        self._delete(resource, namespace, name, None)

    def take_events(self) -> list[WatchEvent]:
        taken, self.events = self.events, []
        return taken

    # --- the Api -------------------------------------------------------------------------------

    async def get(self, resource: Resource, namespace: str, name: str) -> client.Body | None:
        return self.find(resource, namespace, name)

    async def list_objects(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[client.Body]:
        return self.all(resource, namespace)

    async def list_page(
        self, resource: Resource, namespace: str | None, token: str | None = None
    ) -> client.Body:
        """Everything in one page (and no resourceVersion: nothing watches this server)."""
        return {"items": self.all(resource, namespace), "metadata": {"resourceVersion": ""}}

    async def create(
        self, resource: Resource, namespace: str, body: Mapping[str, Any]
    ) -> client.CreateResult:
        name = str(body["metadata"]["name"])
        if self._key(resource, namespace, name) in self.objects:
            return client.AlreadyExists(name)
        stored = self._store_new(
            resource, {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        )
        await self._written("create", resource, namespace, name)
        return client.Created(copy.deepcopy(stored))

    async def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> client.Body | None:
        current = self.objects.get(self._key(resource, namespace, name))
        if (
            resource_version
            and current is not None
            and current["metadata"]["resourceVersion"] != resource_version
        ):
            return None  # the server answers 409, which the client reads as "not ours"
        body = self._delete(resource, namespace, name, uid)
        await self._written("delete", resource, namespace, name)
        return body

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> client.Body | None:
        key = self._key(resource, namespace, name)
        current = self.objects.get(key)
        if current is None:
            return None
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise client.Conflict("the object has been modified", status=409)
        updated = copy.deepcopy(dict(body))
        updated["metadata"] = {
            **updated.get("metadata", {}),
            **{
                k: current["metadata"][k]
                for k in ("uid", "namespace", "name", "creationTimestamp")
                if k in current["metadata"]
            },
        }
        self._replace(resource, key, updated)
        await self._written("update", resource, namespace, name)
        stored = self.objects.get(key)
        return copy.deepcopy(stored) if stored is not None else None

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool = False,
    ) -> client.Body | None:
        key = self._key(resource, namespace, name)
        current = self.objects.get(key)
        if current is None:
            return None
        patch = copy.deepcopy(dict(patch))
        meta_patch = dict(patch.get("metadata") or {})
        wanted_version = meta_patch.pop("resourceVersion", None)
        if wanted_version and wanted_version != current["metadata"]["resourceVersion"]:
            raise client.Conflict("the object has been modified", status=409)
        updated = copy.deepcopy(current)
        if status:
            _merge(updated.setdefault("status", {}), patch.get("status") or {})
        else:
            if "finalizers" in meta_patch:
                added = set(meta_patch["finalizers"]) - set(
                    current["metadata"].get("finalizers", [])
                )
                if current["metadata"].get("deletionTimestamp") and added:
                    raise client.KubeError("no new finalizers can be added", status=422)
            _merge(updated["metadata"], meta_patch)
            rest = {k: v for k, v in patch.items() if k not in ("metadata", "status")}
            _merge(updated, rest)
        self._replace(resource, key, updated)
        await self._written("patch-status" if status else "patch", resource, namespace, name)
        stored = self.objects.get(key)
        return copy.deepcopy(stored) if stored is not None else None

    async def update_metadata(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Mapping[str, Any]], dict[str, Any] | None],
    ) -> client.Body | None:
        current: Mapping[str, Any] | None = body
        for _ in range(8):
            if current is None:
                return None
            meta = current.get("metadata") or {}
            wanted = change(meta)
            if not wanted:
                return dict(current)
            try:
                return await self.patch(
                    resource,
                    str(meta.get("namespace")),
                    str(meta.get("name")),
                    {"metadata": {**wanted, "resourceVersion": meta.get("resourceVersion")}},
                )
            except client.Conflict:
                current = self.find(resource, str(meta.get("namespace")), str(meta.get("name")))
        raise client.Conflict("kept changing", status=409)

    async def update_finalizers(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Sequence[str]], list[str]],
    ) -> client.Body | None:
        def finalizers(meta: Mapping[str, Any]) -> dict[str, Any] | None:
            before = list(meta.get("finalizers") or [])
            after = change(before)
            return None if after == before else {"finalizers": after}

        return await self.update_metadata(resource, body, finalizers)

    async def add_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> client.Body | None:
        return await self.update_finalizers(
            resource, body, lambda fs: list(fs) if finalizer in fs else [*fs, finalizer]
        )

    async def remove_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> client.Body | None:
        return await self.update_finalizers(
            resource, body, lambda fs: [f for f in fs if f != finalizer]
        )

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> client.Body:
        """Kept in ``posted`` (one entry per Event object, patched in place); named at once."""
        stored = copy.deepcopy(dict(body))
        meta = stored.setdefault("metadata", {})
        meta["name"] = f"{meta.pop('generateName', 'event.')}{len(self.posted)}"
        self.posted.append(stored)
        self.event_writes.append(("POST", meta["name"]))
        return copy.deepcopy(stored)

    async def patch_event(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        found = [e for e in self.posted if e["metadata"]["name"] == name]
        if not found:
            return False
        _merge(found[0], patch)
        self.event_writes.append(("PATCH", name))
        return True

    # --- internals -----------------------------------------------------------------------------

    @staticmethod
    def _key(resource: Resource, namespace: str, name: str) -> Key:
        return (resource.group, resource.plural, namespace, name)

    def _store_new(self, resource: Resource, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(body))
        meta = stored.setdefault("metadata", {})
        meta.setdefault("namespace", "ns")
        meta["uid"] = f"uid-{next(self._uids)}"
        meta["resourceVersion"] = str(next(self._versions))
        meta["creationTimestamp"] = f"2026-01-01T00:00:{len(self.objects) % 60:02d}Z"
        meta.setdefault("generation", 1)
        self.objects[self._key(resource, meta["namespace"], meta["name"])] = stored
        self.events.append(WatchEvent("ADDED", resource, copy.deepcopy(stored)))
        return stored

    def _replace(self, resource: Resource, key: Key, updated: dict[str, Any]) -> None:
        meta = updated["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.objects.pop(key, None)
            self.events.append(WatchEvent("DELETED", resource, copy.deepcopy(updated)))
            return
        meta["resourceVersion"] = str(next(self._versions))
        self.objects[key] = updated
        self.events.append(WatchEvent("MODIFIED", resource, copy.deepcopy(updated)))

    def _delete(
        self, resource: Resource, namespace: str, name: str, uid: str | None
    ) -> dict[str, Any] | None:
        key = self._key(resource, namespace, name)
        current = self.objects.get(key)
        if current is None or (uid and current["metadata"]["uid"] != uid):
            return None
        if not current["metadata"].get("finalizers"):
            self.objects.pop(key)
            self.events.append(WatchEvent("DELETED", resource, copy.deepcopy(current)))
            return copy.deepcopy(current)
        updated = copy.deepcopy(current)
        if not updated["metadata"].get("deletionTimestamp"):
            updated["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
            updated["metadata"]["generation"] = updated["metadata"].get("generation", 1) + 1
            self._replace(resource, key, updated)
        return copy.deepcopy(self.objects.get(key, updated))

    async def _written(self, verb: str, resource: Resource, namespace: str, name: str) -> None:
        self.writes.append((verb, resource.plural, name))
        for hook in list(self.after):
            await hook(verb, resource, namespace, name)
