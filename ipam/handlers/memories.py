"""Kopf keeps no per-object memory; the private Kopf code this replaces is checked at start-up.

Kopf keeps one record per watched object (memo, error throttler, daemon and index
bookkeeping) until the object is deleted: about 0.9 KB each, for every claim and every
IPAddress, so nearly 2 KB per bound claim. Only ``on.event`` handlers are registered (no
daemons, no indexes, no change-detecting handlers), and they need none of it, so
:class:`NoMemories` gives every event a record of its own and keeps none.

The record store is Kopf's private ``kopf._core.reactor.inventory``, which carries no
guarantee across Kopf versions. :func:`check` compares what this module relies on with
the installed Kopf (the module, the fields of a record, the store's methods and the
signature of ``recall``, ``kopf.operator``'s ``memories`` argument) and tries it; the
controller refuses to start when anything differs (:class:`KopfChanged`), rather than run
with a store that quietly keeps everything again or a record that lost what Kopf needs.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import kopf

VERSION = importlib.metadata.version("kopf")


class KopfChanged(RuntimeError):
    """The installed Kopf's internals are not those :class:`NoMemories` was written for."""


try:
    from kopf._core.reactor import inventory
except ImportError as err:  # the module moved or was renamed
    raise KopfChanged(
        f"kopf {VERSION} has no kopf._core.reactor.inventory, where Kopf kept its "
        "per-object memories; ipam.handlers.memories must be adapted to it"
    ) from err


RECORD_FIELDS = frozenset(
    {
        "memo",
        "error_throttler",
        "indexing_memory",
        "daemons_memory",
        "remaining_patch",
        "noticed_by_listing",
        "fully_handled_once",
    }
)
"""What a per-object record holds in the Kopf this was checked against (1.45.2): each is
either unused with on.event handlers only, or harmless to start afresh at every event."""
STORE_METHODS = frozenset(
    {
        "recall",
        "recall_memo",
        "forget",
        "iter_all_memories",
        "iter_all_daemon_memories",
        "_build_key",
    }
)
"""The store's own methods there: one more may be a new way to keep records."""
RECALL_PARAMETERS = ("self", "raw_body", "memobase", "noticed_by_listing", "ephemeral")


class NoMemories(inventory.ResourceMemories):
    """Kopf remembers nothing per object: every event gets a memory of its own."""

    async def recall(
        self,
        raw_body: kopf.RawBody,
        *,
        memobase: Any = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> inventory.ResourceMemory:
        return await super().recall(
            raw_body, memobase=memobase, noticed_by_listing=noticed_by_listing, ephemeral=True
        )


def differences(
    record: type, store: type, operator: Callable[..., Any] = kopf.operator
) -> list[str]:
    """What differs from the Kopf :class:`NoMemories` relies on (nothing: an empty list)."""
    found: list[str] = []
    fields = set(getattr(record, "__dataclass_fields__", {}))
    _compare(found, f"the fields of {record.__name__}", fields, RECORD_FIELDS)
    methods = {
        name
        for klass in store.__mro__
        for name, value in vars(klass).items()
        if callable(value) and not (name.startswith("__") and name.endswith("__"))
    }
    _compare(found, f"the methods of {store.__name__}", methods, STORE_METHODS)
    recall = getattr(store, "recall", None)
    if recall is not None:
        parameters = tuple(inspect.signature(recall).parameters)
        if parameters != RECALL_PARAMETERS:
            found.append(
                f"{store.__name__}.recall takes {', '.join(parameters)} instead of "
                f"{', '.join(RECALL_PARAMETERS)}"
            )
    if "memories" not in inspect.signature(operator).parameters:
        found.append("kopf.operator takes no memories argument")
    return found


def _compare(found: list[str], what: str, actual: Iterable[str], expected: Iterable[str]) -> None:
    added, gone = sorted(set(actual) - set(expected)), sorted(set(expected) - set(actual))
    changes = [
        f"{how} {', '.join(names)}" for how, names in (("added", added), ("gone", gone)) if names
    ]
    if changes:
        found.append(f"{what} changed ({'; '.join(changes)})")


async def check(
    record: type = inventory.ResourceMemory,
    store: type = inventory.ResourceMemories,
    operator: Callable[..., Any] = kopf.operator,
) -> None:
    """Raise :class:`KopfChanged` unless the installed Kopf is the one :class:`NoMemories`
    was written for and, tried on one object twice, it kept nothing."""
    found = differences(record, store, operator)
    memories = NoMemories()
    if not found:
        body: kopf.RawBody = {"metadata": {"uid": "start-up-check"}}
        first, second = await memories.recall(body), await memories.recall(body)
        if first is second or list(memories.iter_all_memories()):
            found.append("NoMemories still keeps a record per object")
    if found:
        raise KopfChanged(
            f"kopf {VERSION} differs from the Kopf ipam.handlers.memories was written "
            f"for: {'; '.join(found)}"
        )
