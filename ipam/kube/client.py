"""The only door to the API server: HTTP outcomes come back as domain results, never raw errors.

404 on read or patch is ``None``; 409 on create is :class:`AlreadyExists`; 409 on a
versioned write is :class:`Conflict` (the caller re-reads and tries again); anything the
server refuses is :class:`KubeError` carrying its status and message; a server that
cannot be reached is :class:`Unreachable`. Bodies are plain dicts.

Credentials are never trusted to last: a 401 makes the client read its kubeconfig (or the
Pod's rotated ServiceAccount token) again and retry the request once, so rotated tokens and
exec-plugin credentials keep working.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException

from ipam.kube import connection
from ipam.kube.resources import Resource

Body = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
PAGE_SIZE = 500
FINALIZER_ATTEMPTS = 8
CLOSE_GRACE = 0.1
"""Seconds :meth:`Client.close` leaves the event loop for TLS connections to finish closing."""
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120)
"""The API server gives up on a request after 60 s; this leaves room for the answer."""
READ_BUFFER = 2**21
"""Bytes: one watch event or object may be as large as etcd allows (about 1.5 MiB)."""
CONNECTIONS = 16
"""Requests in flight at once (watches aside): more wait for a free connection. Each TLS
connection costs about 300 KiB of buffers while it stays open; the API server answers no
faster with more, and the workers of a burst wait their turn in order."""


class KubeError(Exception):
    """The API server refused a request; ``status`` is the HTTP code, if there was one."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class Unreachable(KubeError):
    """No answer from the API server (connection refused, TLS failure, timeout)."""


class Conflict(KubeError):
    """A versioned write lost a race: the object changed since it was read."""


class NotLeading(KubeError):
    """A write was refused before it was sent: this process does not hold the Lease now."""


@dataclass(frozen=True)
class Created:
    body: Body


@dataclass(frozen=True)
class AlreadyExists:
    name: str


CreateResult = Created | AlreadyExists


def _loads(data: bytes | str) -> Any:
    """JSON text as Python values (orjson: a watch event or an answer in a third of the time)."""
    return orjson.loads(data)


def drop_field_ownership(body: Mapping[str, Any]) -> None:
    """Take the server's ``metadata.managedFields`` out of a body read from it.

    Nothing here reads them, and they are most of a parsed claim (about 3 of 4.7 KB):
    bodies listed or watched by the thousand, and queued claims' bodies kept until their
    reconcile, would carry them for nothing.
    """
    meta = body.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)


def _dumps(body: Mapping[str, Any]) -> bytes:
    """A request body as JSON; what orjson refuses (an integer past 64 bits, a Mapping that is
    not a dict) the standard library writes as before."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def _error(err: ApiException) -> KubeError:
    message = str(err.reason or "")
    reason = ""
    try:
        status = _loads(err.body) if err.body else {}
        message = status.get("message") or message
        reason = status.get("reason") or ""
    except (ValueError, TypeError, AttributeError):
        pass
    cls = Conflict if err.status == 409 else KubeError
    return cls(f"{message} (HTTP {err.status})", status=err.status, reason=reason)


def _read_environment_once(api: k8s.ApiClient) -> None:
    """Decide about proxies once, not in a worker thread on every request.

    The generated client's session trusts the environment, so aiohttp looks up proxy
    variables and reads ~/.netrc in a thread for each request: a thread hop and a file
    read per API call, a good part of the controller's CPU in a burst. The same decision
    (an explicit proxy from the kubeconfig, else HTTPS_PROXY unless NO_PROXY covers the
    server) is taken here once, and the session stops trusting the environment.
    """
    rest = api.rest_client
    session = rest.pool_manager
    if not rest.proxy:
        server = str(api.configuration.host or "")
        host = urllib.parse.urlsplit(server).hostname or ""
        proxies = urllib.request.getproxies()
        proxy = proxies.get(urllib.parse.urlsplit(server).scheme or "https")
        if proxy and not urllib.request.proxy_bypass(host):
            rest.proxy = proxy
    connector = session.connector
    session.detach()
    rest.pool_manager = aiohttp.ClientSession(
        connector=connector, trust_env=False, read_bufsize=READ_BUFFER
    )


def _object_path(resource: Resource, namespace: str, name: str = "", sub: str = "") -> str:
    """The URL path of a namespaced object (or of its collection, without a name)."""
    root = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    path = f"{root}/namespaces/{namespace}/{resource.plural}"
    for part in (name, sub):
        if part:
            path += f"/{part}"
    return path


def _collection_path(resource: Resource, namespace: str | None) -> str:
    """The URL path of a type's objects in one namespace, or in all of them."""
    if namespace:
        return _object_path(resource, namespace)
    root = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
    return f"{root}/{resource.plural}"


class Expired(KubeError):
    """A watch asked for a resourceVersion the server no longer has (410 Gone): List again."""


def _path_of(resource: Resource, namespace: str | None) -> str:
    return f"{resource}" + (f" in {namespace}" if namespace else "")


class Client:
    """Typed, async calls on the API server; one instance per process, shared by everybody."""

    def __init__(self, api: k8s.ApiClient, *, kubeconfig: str | None = None) -> None:
        self.api = api
        self.custom = k8s.CustomObjectsApi(api)
        self.kubeconfig = kubeconfig
        self.may_write: Callable[[], bool] | None = None
        """When set and answering False, every write fails with :class:`NotLeading`."""
        self._watches: aiohttp.ClientSession | None = None
        """Watches hold their connections for minutes: they get a session of their own,
        without a connection limit, so they never starve the calls of the reconciles."""

    @classmethod
    async def connect(
        cls, kubeconfig: str | None = None, *, connections: int = CONNECTIONS
    ) -> Client:
        configuration = await connection.load_configuration(kubeconfig)
        configuration.connection_pool_maxsize = connections
        api = k8s.ApiClient(configuration)
        _read_environment_once(api)
        return cls(api, kubeconfig=kubeconfig)

    async def reauthenticate(self) -> bool:
        """Read the credentials again; True when they changed (worth a retry)."""
        try:
            fresh = await connection.load_configuration(self.kubeconfig)
        except connection.ConfigurationError:
            return False
        current = self.api.configuration
        before = await current.get_api_key_with_prefix("BearerToken")
        current.api_key = dict(fresh.api_key)
        current.api_key_prefix = dict(fresh.api_key_prefix)
        current.refresh_api_key_hook = fresh.refresh_api_key_hook
        after = await current.get_api_key_with_prefix("BearerToken")
        return bool(after) and after != before

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    async def close(self) -> None:
        if self._watches is not None:
            await self._watches.close()
        await self.api.close()
        # A TLS connection closes only once its close_notify is answered: the event loop
        # must run a moment longer, or a loop that ends right after this leaves sockets
        # half-closed (ResourceWarning: unclosed transport).
        await asyncio.sleep(CLOSE_GRACE)

    def _watch_session(self) -> aiohttp.ClientSession:
        if self._watches is None:
            rest = k8s.rest.RESTClientObject(self.api.configuration, maxsize=0)
            connector = rest.pool_manager.connector
            rest.pool_manager.detach()
            self._watches = aiohttp.ClientSession(
                connector=connector, trust_env=False, read_bufsize=READ_BUFFER
            )
        return self._watches

    async def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return await fn(*args, **kwargs)
            except ApiException as err:
                if err.status == 401 and await self.reauthenticate():
                    return await fn(*args, **kwargs)
                raise
        except ApiException as err:
            if err.status == 0 or err.status is None:
                raise Unreachable(f"{what}: {err.reason}") from err
            raise _error(err) from err
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise self._unreachable(what, err) from err

    def _unreachable(self, what: str, err: BaseException) -> Unreachable:
        return Unreachable(f"{what}: cannot reach {self.server}: {err or type(err).__name__}")

    async def _send(
        self,
        what: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        content_type: str = "application/json",
    ) -> Body:
        """One request straight through the client's HTTP session, JSON in and out.

        The hot calls of an allocation (get, create, patch, Event) go this way: the
        generated client's per-call machinery (parameter checks, serialisation passes,
        model handling) was a fifth of the controller's CPU in a burst of claims. The
        session, its TLS settings, proxy and credentials are the generated client's own.
        """
        if method != "GET" and self.may_write is not None and not self.may_write():
            raise NotLeading(f"{what}: not sent, this instance does not hold the Lease now")
        status, reason, data = await self._request(what, method, path, body, content_type)
        if status == 401 and await self.reauthenticate():
            status, reason, data = await self._request(what, method, path, body, content_type)
        if not 200 <= status <= 299:
            failure = ApiException(status=status, reason=reason)
            failure.body = data
            raise _error(failure)
        answer: Body = _loads(data) if data else {}
        return answer

    async def _request(
        self,
        what: str,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        content_type: str,
    ) -> tuple[int, str | None, bytes]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        authorization = await self.api.configuration.get_api_key_with_prefix("BearerToken")
        if authorization:
            headers["Authorization"] = authorization
        rest = self.api.rest_client
        try:
            async with rest.pool_manager.request(
                method,
                f"{self.server}{path}",
                data=None if body is None else _dumps(body),
                headers=headers,
                proxy=rest.proxy or None,
                timeout=REQUEST_TIMEOUT,
            ) as response:
                data = await response.read()
                status = response.status
                reason = response.reason
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise self._unreachable(what, err) from err
        return status, reason, data

    # --- reads ---------------------------------------------------------------------------------

    async def get(self, resource: Resource, namespace: str, name: str) -> Body | None:
        try:
            body = await self._send(
                f"get {resource} {namespace}/{name}",
                "GET",
                _object_path(resource, namespace, name),
            )
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return body

    async def list_objects(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Body]:
        """Every object of the type (in the namespace, if given), page by page."""
        items: list[Body] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_SIZE}
            if token:
                kwargs["_continue"] = token
            if label_selector:
                kwargs["label_selector"] = label_selector
            if namespace:
                page = await self._call(
                    f"list {_path_of(resource, namespace)}",
                    self.custom.list_namespaced_custom_object,
                    resource.group,
                    resource.version,
                    namespace,
                    resource.plural,
                    **kwargs,
                )
            else:
                page = await self._call(
                    f"list {resource}",
                    self.custom.list_cluster_custom_object,
                    resource.group,
                    resource.version,
                    resource.plural,
                    **kwargs,
                )
            for item in page.get("items") or []:
                drop_field_ownership(item)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    async def list_page(
        self, resource: Resource, namespace: str | None, token: str | None = None
    ) -> Body:
        """One page of a List straight through the HTTP session (items, resourceVersion and
        the continue token in ``metadata``), for a watch to start from."""
        query = f"?limit={PAGE_SIZE}" + (f"&continue={urllib.parse.quote(token)}" if token else "")
        return await self._send(
            f"list {_path_of(resource, namespace)}",
            "GET",
            _collection_path(resource, namespace) + query,
        )

    async def watch(
        self, resource: Resource, namespace: str | None, version: str, *, server_timeout: int
    ) -> AsyncGenerator[Body, None]:
        """The events of a Watch from ``version`` (bookmarks included) until the server ends
        it after about ``server_timeout`` seconds; :class:`Expired` when ``version`` is too old."""
        what = f"watch {_path_of(resource, namespace)}"
        query = (
            f"?watch=1&allowWatchBookmarks=true&timeoutSeconds={server_timeout}"
            f"&resourceVersion={urllib.parse.quote(version)}"
        )
        url = f"{self.server}{_collection_path(resource, namespace)}{query}"
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            authorization = await self.api.configuration.get_api_key_with_prefix("BearerToken")
            if authorization:
                headers["Authorization"] = authorization
            proxy = self.api.rest_client.proxy or None
            limit = aiohttp.ClientTimeout(total=None, connect=30, sock_read=server_timeout + 30)
            try:
                async with self._watch_session().request(
                    "GET", url, headers=headers, proxy=proxy, timeout=limit
                ) as response:
                    if response.status == 401 and attempt == 1 and await self.reauthenticate():
                        continue
                    if response.status == 410:
                        raise Expired(f"{what}: resourceVersion {version} is too old", status=410)
                    if response.status != 200:
                        failure = ApiException(status=response.status, reason=response.reason)
                        failure.body = await response.read()
                        raise _error(failure)
                    async for line in response.content:
                        if line.strip():
                            yield _loads(line)
            except (TimeoutError, aiohttp.ClientError, OSError) as err:
                raise self._unreachable(what, err) from err
            return

    async def served(self, resource: Resource) -> bool:
        """Whether the API server serves this type at all (its CRD is installed)."""
        try:
            await self._call(
                f"list {resource}",
                self.custom.list_cluster_custom_object,
                resource.group,
                resource.version,
                resource.plural,
                limit=1,
            )
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        return True

    # --- writes --------------------------------------------------------------------------------

    async def create(
        self, resource: Resource, namespace: str, body: Mapping[str, Any]
    ) -> CreateResult:
        name = str((body.get("metadata") or {}).get("name", ""))
        try:
            created = await self._send(
                f"create {resource} {namespace}/{name}",
                "POST",
                _object_path(resource, namespace),
                body,
            )
        except Conflict as err:
            if err.reason == "AlreadyExists":
                return AlreadyExists(name)
            raise
        return Created(created)

    async def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> Body | None:
        """Delete (only that incarnation, if ``uid`` is given; only that version of it, if
        ``resource_version`` is).

        Returns the object as the server answered (with ``deletionTimestamp`` while
        finalizers hold it), or None when it was already gone (or is a newer incarnation, or
        has changed since that version).
        """
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if uid or resource_version:
            options["preconditions"] = {k: v for k, v in preconditions.items() if v}
        try:
            body = await self._send(
                f"delete {resource} {namespace}/{name}",
                "DELETE",
                _object_path(resource, namespace, name),
                options,
            )
        except KubeError as err:
            if err.status == 404:
                return None
            if err.status == 409 and (uid or resource_version):
                return None  # a newer object of that name, or changed: not ours to delete
            raise
        return body

    async def patch(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        status: bool = False,
    ) -> Body | None:
        """JSON merge patch of the object (or its status subresource); None when it is gone."""
        try:
            body = await self._send(
                f"patch {resource}{'/status' if status else ''} {namespace}/{name}",
                "PATCH",
                _object_path(resource, namespace, name, "status" if status else ""),
                patch,
                content_type=MERGE_PATCH,
            )
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return body

    async def replace(
        self, resource: Resource, namespace: str, name: str, body: Mapping[str, Any]
    ) -> Body | None:
        """Write the whole object (an ``update``); its resourceVersion makes it conditional."""
        try:
            written: Body = await self._call(
                f"update {resource} {namespace}/{name}",
                self.custom.replace_namespaced_custom_object,
                resource.group,
                resource.version,
                namespace,
                resource.plural,
                name,
                dict(body),
            )
        except KubeError as err:
            if err.status == 404:
                return None
            raise
        return written

    async def update_finalizers(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Sequence[str]], list[str]],
    ) -> Body | None:
        """Rewrite ``metadata.finalizers`` with ``change`` (see :meth:`update_metadata`)."""

        def finalizers(meta: Mapping[str, Any]) -> dict[str, Any] | None:
            before = list(meta.get("finalizers") or [])
            after = change(before)
            return None if after == before else {"finalizers": after}

        return await self.update_metadata(resource, body, finalizers)

    async def update_metadata(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        change: Callable[[Mapping[str, Any]], dict[str, Any] | None],
    ) -> Body | None:
        """Merge-patch ``metadata`` with what ``change`` asks, under optimistic concurrency.

        ``change`` gets the object's current metadata and returns the metadata fields to
        write (``finalizers`` whole, ``annotations``/``labels`` merged), or None when
        nothing must change. The write carries the resourceVersion it was computed from; on
        a conflict the object is read again and ``change`` asked again. Returns the object as
        written (or as found, when nothing had to change), None when it is gone.
        """
        current: Mapping[str, Any] | None = body
        for _ in range(FINALIZER_ATTEMPTS):
            if current is None:
                return None
            meta = current.get("metadata") or {}
            wanted = change(meta)
            if not wanted:
                return dict(current)
            namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
            patch = {"metadata": {**wanted, "resourceVersion": meta.get("resourceVersion")}}
            try:
                return await self.patch(resource, namespace, name, patch)
            except Conflict:
                current = await self.get(resource, namespace, name)
        raise Conflict(f"metadata of {resource} kept changing", status=409)

    async def add_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> Body | None:
        return await self.update_finalizers(
            resource, body, lambda fs: list(fs) if finalizer in fs else [*fs, finalizer]
        )

    async def remove_finalizer(
        self, resource: Resource, body: Mapping[str, Any], finalizer: str
    ) -> Body | None:
        return await self.update_finalizers(
            resource, body, lambda fs: [f for f in fs if f != finalizer]
        )

    # --- built-in kinds ------------------------------------------------------------------------

    async def create_event(self, namespace: str, body: Mapping[str, Any]) -> Body:
        """Create a core/v1 Event; the answer names it (for :meth:`patch_event`)."""
        return await self._send(
            f"create event in {namespace}", "POST", f"/api/v1/namespaces/{namespace}/events", body
        )

    async def patch_event(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        """Merge-patch an Event (an aggregated one's count); False when it is gone."""
        try:
            await self._send(
                f"patch event {namespace}/{name}",
                "PATCH",
                f"/api/v1/namespaces/{namespace}/events/{name}",
                patch,
                content_type=MERGE_PATCH,
            )
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        return True

    async def version(self) -> str:
        """The API server's version, to prove it answers."""
        info = await self._call("get /version", k8s.VersionApi(self.api).get_code)
        return str(getattr(info, "git_version", "") or "")
