"""What a Python process's objects hold, beside what its memory allocator keeps resident.

A resident set size alone cannot tell memory still in use from memory freed but kept.
CPython serves every object of up to 512 bytes from 1 MiB *arenas* of its own, and gives
an arena back to the system only once every object in it is gone: a few objects that
outlive a burst (a connection's buffers, a cache entry, the newest body of a pool) keep
the arenas they sit in. The readings here separate the two:

- ``small_in_use``: bytes of the small objects alive now (``sys._debugmallocstats``);
- ``arenas``: arenas held, each 1 MiB, whatever they still hold;
- ``heap_kib``, ``anonymous_kib``, ``files_kib``: resident KiB of the C heap (larger
  objects), of anonymous mappings (the arenas among them) and of mapped files, from
  ``/proc/self/smaps``;
- ``tracked``: objects the garbage collector tracks (containers: dicts, lists, instances).

:data:`WRAPPER` runs the controller's own entry point with a handler that writes these
readings as JSON to ``$BENCH_ALLOCATOR_FILE`` on SIGUSR2, after a full collection.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import tempfile

_STAT = re.compile(r"^# (arenas allocated current|bytes in allocated blocks)\s*=\s*([\d,]+)$", re.M)
_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$")

WRAPPER = r"""
import json, os, runpy, signal, sys
from bench import allocator
def _write(signum, frame):
    path = os.environ["BENCH_ALLOCATOR_FILE"]
    with open(path + ".tmp", "w") as out:
        json.dump(allocator.readings(), out)
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR2, _write)
sys.argv = ["ipam", *sys.argv[1:]]
runpy.run_module("ipam", run_name="__main__", alter_sys=True)
"""
"""``python -c WRAPPER run ...`` is ``python -m ipam run ...`` that answers SIGUSR2."""


def mallocstats(text: str) -> dict[str, int]:
    """Arenas held and bytes of small objects in use, from ``sys._debugmallocstats`` text."""
    found = {name: int(value.replace(",", "")) for name, value in _STAT.findall(text)}
    missing = {"arenas allocated current", "bytes in allocated blocks"} - set(found)
    if missing:
        raise ValueError(f"no {', '.join(sorted(missing))} in the allocator's statistics")
    return {
        "arenas": found["arenas allocated current"],
        "small_in_use": found["bytes in allocated blocks"],
    }


def smaps(text: str) -> dict[str, int]:
    """Resident KiB of the C heap, of anonymous mappings and of mapped files."""
    totals = {"heap_kib": 0, "anonymous_kib": 0, "files_kib": 0}
    where = "anonymous_kib"
    for line in text.splitlines():
        mapping = _MAPPING.match(line)
        if mapping:
            name = mapping.group(1).strip()
            if name == "[heap]":
                where = "heap_kib"
            elif name.startswith("/"):
                where = "files_kib"
            elif not name:
                where = "anonymous_kib"
            else:
                where = ""  # the stack, vdso and the like: counted nowhere
            continue
        if where and line.startswith("Rss:"):
            totals[where] += int(line.split()[1])
    return totals


def readings() -> dict[str, int]:
    """This process now, after a full collection (which also empties the free lists)."""
    gc.collect()
    with tempfile.TemporaryFile("w+") as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        stats = capture.read()
    with open("/proc/self/smaps") as maps:
        resident = smaps(maps.read())
    return {**mallocstats(stats), **resident, "tracked": len(gc.get_objects())}
