"""Kopf keeps no per-object memory, and a Kopf whose private store changed stops the start."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._core.reactor import inventory

from ipam.handlers import memories

REPO = Path(__file__).resolve().parents[3]
BODY: kopf.RawBody = {"metadata": {"uid": "u1", "name": "c1", "namespace": "ns"}}


def test_the_installed_kopf_is_the_one_no_memories_was_written_for() -> None:
    assert memories.differences(inventory.ResourceMemory, inventory.ResourceMemories) == []
    asyncio.run(memories.check())


def test_every_event_gets_a_record_of_its_own_and_none_is_kept() -> None:
    base = kopf.Memo(seen="base")

    async def twice(store: inventory.ResourceMemories) -> list[inventory.ResourceMemory]:
        return [await store.recall(BODY, memobase=base), await store.recall(BODY, memobase=base)]

    kopfs = inventory.ResourceMemories()
    kept = asyncio.run(twice(kopfs))
    assert kept[0] is kept[1]
    assert list(kopfs.iter_all_memories()) == [kept[0]]

    ours = memories.NoMemories()
    first, second = asyncio.run(twice(ours))
    assert first is not second
    assert list(ours.iter_all_memories()) == []
    assert first.memo is not base
    assert first.memo.seen == "base"


@dataclasses.dataclass
class RecordWithMore(inventory.ResourceMemory):
    resume_after: float = 0.0


@dataclasses.dataclass
class RecordWithLess:
    memo: Any = None
    error_throttler: Any = None


class StoreWithMore(inventory.ResourceMemories):
    def remember(self, raw_body: kopf.RawBody) -> None:
        raise NotImplementedError


class StoreWithOtherRecall(inventory.ResourceMemories):
    async def recall(  # type: ignore[override]
        self, raw_body: kopf.RawBody, *, memobase: Any = None, noticed_by_listing: bool = False
    ) -> inventory.ResourceMemory:
        raise NotImplementedError


def operator_without_memories(*, registry: Any = None, settings: Any = None) -> None:
    raise NotImplementedError


@pytest.mark.parametrize(
    ("record", "store", "operator", "expected"),
    [
        pytest.param(
            RecordWithMore,
            inventory.ResourceMemories,
            kopf.operator,
            "the fields of RecordWithMore changed (added resume_after)",
            id="record-gained-a-field",
        ),
        pytest.param(
            RecordWithLess,
            inventory.ResourceMemories,
            kopf.operator,
            "the fields of RecordWithLess changed (gone daemons_memory, fully_handled_once, "
            "indexing_memory, noticed_by_listing, remaining_patch)",
            id="record-lost-fields",
        ),
        pytest.param(
            inventory.ResourceMemory,
            StoreWithMore,
            kopf.operator,
            "the methods of StoreWithMore changed (added remember)",
            id="store-gained-a-method",
        ),
        pytest.param(
            inventory.ResourceMemory,
            StoreWithOtherRecall,
            kopf.operator,
            "StoreWithOtherRecall.recall takes self, raw_body, memobase, noticed_by_listing "
            "instead of self, raw_body, memobase, noticed_by_listing, ephemeral",
            id="recall-lost-ephemeral",
        ),
        pytest.param(
            inventory.ResourceMemory,
            inventory.ResourceMemories,
            operator_without_memories,
            "kopf.operator takes no memories argument",
            id="operator-lost-memories",
        ),
    ],
)
def test_each_change_of_the_private_store_is_named(
    record: type, store: type, operator: Callable[..., Any], expected: str
) -> None:
    assert memories.differences(record, store, operator) == [expected]
    with pytest.raises(memories.KopfChanged, match=f"kopf {memories.VERSION} differs"):
        asyncio.run(memories.check(record, store, operator))


def test_a_store_that_keeps_records_despite_ephemeral_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = inventory.ResourceMemories.recall

    async def keeping(
        self: inventory.ResourceMemories,
        raw_body: kopf.RawBody,
        *,
        memobase: Any = None,
        noticed_by_listing: bool = False,
        ephemeral: bool = False,
    ) -> inventory.ResourceMemory:
        return await original(self, raw_body, memobase=memobase, ephemeral=False)

    monkeypatch.setattr(inventory.ResourceMemories, "recall", keeping)
    with pytest.raises(memories.KopfChanged, match="NoMemories still keeps a record per object"):
        asyncio.run(memories.check())


def test_a_kopf_without_the_private_module_fails_on_import_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kopf._core.reactor

    monkeypatch.delattr(kopf._core.reactor, "inventory")
    monkeypatch.setitem(sys.modules, "kopf._core.reactor.inventory", None)
    spec = importlib.util.spec_from_file_location("memories_again", memories.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(RuntimeError, match=r"has no kopf\._core\.reactor\.inventory") as raised:
        spec.loader.exec_module(module)
    assert type(raised.value).__name__ == "KopfChanged"
    assert isinstance(raised.value.__cause__, ImportError)


def test_ipam_run_refuses_to_start_on_a_changed_kopf_and_exits_3(tmp_path: Path) -> None:
    """The whole command, before it even reads its kubeconfig (which does not exist)."""
    changed = (
        "from kopf._core.reactor import inventory\n"
        "inventory.ResourceMemories.remember = lambda self, body: None\n"
        "import runpy, sys\n"
        f"sys.argv = ['ipam', 'run', '--kubeconfig={tmp_path / 'absent'}', "
        "'--health-port=0', '--metrics-port=0']\n"
        "runpy.run_module('ipam', run_name='__main__', alter_sys=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", changed],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Cannot start: kopf" in proc.stderr
    assert "the methods of ResourceMemories changed (added remember)" in proc.stderr
