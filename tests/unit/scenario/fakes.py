"""An in-memory Environment for the runner's own tests only; scenarios always run on real clusters.

It keeps objects in dicts, counts resourceVersions, moves a namespace the way clusterctl
does (new uids, owners rewritten, status dropped), backs a namespace up and restores it,
and records every restart and controller action, so step dispatch, conditions and
failure output can be tested in milliseconds. Background blocks call it from their own
threads, so every client operation holds the client's lock.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from e2e.scenario.environment import ControllerLog, Probe
from e2e.scenario.errors import MoveFailed
from e2e.scenario.kube import KubectlFailed
from e2e.scenario.manifests import Kind, ObjectRef

Key = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """add / replace / remove on object paths (enough for the tests)."""
    result = copy.deepcopy(target)
    for op in ops:
        *parents, last = [
            p.replace("~1", "/").replace("~0", "~") for p in op["path"][1:].split("/")
        ]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        else:
            node[last] = copy.deepcopy(op["value"])
    return result


def labels_match(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in selector.split(","):
        name, _, value = term.partition("=")
        if labels.get(name.strip()) != value.strip():
            return False
    return True


class FakeClient:
    """ObjectClient over a dict; ``hooks`` run before every read (to simulate other writers)."""

    def __init__(self, name: str, versions: itertools.count[int]) -> None:
        self.name = name
        self.objects: dict[Key, dict[str, Any]] = {}
        self.versions = versions
        self.missing_kinds: set[str] = set()
        self.hooks: list[Callable[[FakeClient], None]] = []
        self.calls: list[str] = []
        self.refused_applies = 0
        """So many applies from now on fail as during an API server restart."""
        self.lock = threading.RLock()
        self.refusals: dict[str, str] = {}
        """Object name -> the stderr kubectl prints when the API server refuses a write of it."""

    # --- ObjectClient ----------------------------------------------------------------------

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        self._before_read()
        self._check_kind(ref.kind)
        with self.lock:
            found = self.objects.get(self._key(ref))
            return copy.deepcopy(found) if found else None

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        missing_kind_ok: bool = False,
    ) -> list[dict[str, Any]]:
        self._before_read()
        if str(kind) in self.missing_kinds:
            if missing_kind_ok:
                return []
            self._check_kind(kind)
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (api_version, k, ns, _), obj in sorted(self.objects.items())
                if (api_version, k) == (kind.api_version, kind.kind)
                and (namespace is None or ns == namespace)
                and labels_match(obj, label_selector)
            ]

    def apply(self, objects: Sequence[dict[str, Any]]) -> None:
        with self.lock:
            self.calls.append(f"apply {len(objects)}")
            if self.refused_applies > 0:
                self.refused_applies -= 1
                raise KubectlFailed(f"{self.name}: The connection to the server was refused")
            for obj in objects:
                self._refuse(obj["metadata"]["name"])
            for obj in objects:
                self.put(obj)

    def patch(
        self, ref: ObjectRef, patch: Any, *, patch_type: str, subresource: str | None = None
    ) -> None:
        with self.lock:
            self.calls.append(f"patch {ref} {patch_type} {subresource or ''}".strip())
            self._refuse(ref.name)
            current = self.objects.get(self._key(ref))
            if current is None:
                raise KubectlFailed(f'{self.name}: Error from server (NotFound): "{ref.name}"')
            changed = (
                merge_patch(current, patch) if patch_type == "merge" else json_patch(current, patch)
            )
            self._store(self._key(ref), changed)

    def delete(self, refs: Sequence[ObjectRef]) -> None:
        with self.lock:
            self.calls.append(f"delete {len(refs)}")
            for ref in refs:
                if self.objects.pop(self._key(ref), None) is None:
                    raise KubectlFailed(f'{self.name}: Error from server (NotFound): "{ref.name}"')

    # --- helpers for tests -------------------------------------------------------------------

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or update (status included, as a controller would write it)."""
        with self.lock:
            key = self._key(ObjectRef.of(obj))
            current = self.objects.get(key)
            merged = merge_patch(current, obj) if current else copy.deepcopy(obj)
            return self._store(key, merged)

    def _store(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            current = self.objects.get(key)
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            if current is None or _content(current) != _content(obj):
                meta["resourceVersion"] = str(next(self.versions))
            self.objects[key] = obj
            return obj

    def _refuse(self, name: str) -> None:
        if name in self.refusals:
            stderr = self.refusals[name]
            raise KubectlFailed(f"{self.name}: kubectl exited 1: {stderr}", stderr)

    def _before_read(self) -> None:
        for hook in self.hooks:
            hook(self)

    def _check_kind(self, kind: Kind) -> None:
        if str(kind) in self.missing_kinds:
            raise KubectlFailed(
                f'{self.name}: error: the server doesn\'t have a resource type "{kind.kind}"'
            )

    @staticmethod
    def _key(ref: ObjectRef) -> Key:
        return (ref.kind.api_version, ref.kind.kind, ref.namespace or "", ref.name)


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class FakeEnvironment:
    """Two in-memory clusters, ``source`` and ``target``, and a record of what happened.

    ``on_move`` hooks run in the middle of every move (after the source objects are read),
    so a test can act while a move is in progress; ``probes`` answer readiness steps.
    """

    def __init__(self) -> None:
        versions = itertools.count(1)
        self.clients = {name: FakeClient(name, versions) for name in ("source", "target")}
        self.actions: list[str] = []
        self.running: dict[tuple[str, str], bool] = {}
        self.args: dict[tuple[str, str], list[str]] = {}
        self.probes: dict[tuple[str, str], list[Probe]] = {}
        self.backups: dict[str, dict[Key, dict[str, Any]]] = {}
        self.on_move: list[Callable[[], None]] = []
        self.refuse_moves: str | None = None
        """When set, every move fails with this text (as clusterctl refusing it) and moves nothing."""
        self.log_dir: Path | None = None

    def cluster_names(self) -> list[str]:
        return list(self.clients)

    def client(self, cluster: str) -> FakeClient:
        return self.clients[cluster]

    def restart(self, cluster: str, component: str, *, down: float = 0.0) -> None:
        self.actions.append(
            f"restart {component} on {cluster}" + (f" down {down:g}" if down else "")
        )

    def move(self, source: str, target: str, namespace: str, *, timeout: float) -> None:
        self.actions.append(f"move {namespace} from {source} to {target} within {timeout:g}")
        if self.refuse_moves is not None:
            raise MoveFailed(self.refuse_moves)
        src, dst = self.clients[source], self.clients[target]
        with src.lock:
            moving = {k: copy.deepcopy(v) for k, v in src.objects.items() if k[2] == namespace}
        for hook in self.on_move:
            hook()
        self._create(dst, moving)
        with src.lock:
            for key in moving:
                src.objects.pop(key, None)

    def backup(self, source: str, directory: str, namespace: str, *, timeout: float) -> None:
        self.actions.append(f"backup {namespace} of {source} to {directory} within {timeout:g}")
        src = self.clients[source]
        with src.lock:
            saved = {k: copy.deepcopy(v) for k, v in src.objects.items() if k[2] == namespace}
        self.backups.setdefault(directory, {}).update(saved)

    def restore(self, directory: str, target: str, *, timeout: float) -> None:
        self.actions.append(f"restore {directory} to {target} within {timeout:g}")
        dst = self.clients[target]
        with dst.lock:
            fresh = {k: v for k, v in self.backups[directory].items() if k not in dst.objects}
        self._create(dst, copy.deepcopy(fresh))

    @staticmethod
    def _create(dst: FakeClient, objects: dict[Key, dict[str, Any]]) -> None:
        """Create the objects as clusterctl does: no status, new uids, owners rewritten."""
        new_uids: dict[str, str] = {}
        with dst.lock:
            for key, obj in objects.items():
                copied = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
                old_uid = copied["metadata"].pop("uid")
                copied["metadata"].pop("resourceVersion", None)
                new_uids[old_uid] = dst._store(key, copied)["metadata"]["uid"]
            for key in objects:
                for owner in dst.objects[key]["metadata"].get("ownerReferences", []):
                    owner["uid"] = new_uids.get(owner.get("uid"), owner.get("uid"))

    def controller(
        self, cluster: str, instance: str, action: str, args: Sequence[str] | None = None
    ) -> None:
        shown = f" {' '.join(args)}" if args else ""
        self.actions.append(f"controller {action} {instance} on {cluster}{shown}")
        self.running[(cluster, instance)] = action in ("start", "restart")
        if args is not None:
            self.args[(cluster, instance)] = list(args)

    def peer(
        self, cluster: str, name: str, action: str, *, namespace: str, args: Sequence[str] = ()
    ) -> None:
        shown = f" {' '.join(args)}" if args else ""
        self.actions.append(f"peer {action} {name} on {cluster} serving {namespace}{shown}")

    def controller_probe(self, cluster: str, instance: str) -> Probe:
        answers = self.probes.get((cluster, instance))
        if answers:
            return answers.pop(0) if len(answers) > 1 else answers[0]
        if not self.running.get((cluster, instance)):
            return Probe(ready=False, exit_code=1, detail="it exited with code 1")
        return Probe(ready=True, detail="/readyz: 200")

    def controller_logs(self, lines: int) -> list[ControllerLog]:
        return [
            ControllerLog(
                label=f"{instance}@{cluster}",
                tail=f"fake log of {instance}: running={alive}",
                path=None if self.log_dir is None else self.log_dir / f"{cluster}-{instance}.log",
            )
            for (cluster, instance), alive in self.running.items()
        ]
