"""The narrow interface the reconciles use to talk to the API server, and nothing more.

:class:`ipam.kube.client.Client` implements it against a real server. Tests that need an
exact interleaving (a claim deleted between two of our writes, say) implement it in memory;
every behaviour still has its test against a real API server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ipam.kube.client import Body, CreateResult
from ipam.kube.resources import Resource


class Api(Protocol):
    """Object reads and writes with domain outcomes (see :mod:`ipam.kube.client`)."""

    @property
    def server(self) -> str: ...

    async def get(self, resource: Resource, namespace: str, name: str) -> Body | None: ...

    async def list_objects(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Body]: ...

    async def list_page(
        self, resource: Resource, namespace: str | None, token: str | None = None
    ) -> Body:
        """One page of a List: ``items``, and ``metadata`` with its resourceVersion and the
        continue token (none on the last page)."""
        ...

    async def create(
        self, resource: Resource, namespace: str, body: Mapping[str, Any]
    ) -> CreateResult: ...

    async def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Body | None: ...

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> Body | None: ...

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool = False,
    ) -> Body | None: ...

    async def update_metadata(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Mapping[str, Any]], dict[str, Any] | None],
    ) -> Body | None: ...

    async def update_finalizers(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Sequence[str]], list[str]],
    ) -> Body | None: ...

    async def add_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> Body | None: ...

    async def remove_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> Body | None: ...

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> Body: ...

    async def patch_event(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool: ...
