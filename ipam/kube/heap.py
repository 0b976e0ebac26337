"""Freed memory goes back to the system: glibc is asked to return what it keeps; elsewhere nothing.

CPython hands every block above 512 bytes (parsed bodies, response buffers, TLS buffers)
to the C library's allocator. glibc keeps what is freed inside its heaps for reuse and
gives back only the free tail of the main heap, so after a burst of claims, or after they
are all deleted, the process keeps its peak resident size although the objects are gone.
``malloc_trim(0)`` makes glibc release every free page of every heap (it stays reserved,
not resident). It costs little when there is little to give back, so the controller calls
it every :data:`PERIOD` seconds (:func:`give_back_forever`).

Where the C library is not glibc (musl, macOS, Windows) there is no such call:
:func:`trim` does nothing and says so by returning False.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

PERIOD = 30.0
"""Seconds between two gives-back: memory freed by a finished burst is back within this."""


def _glibc_trim() -> Callable[[int], int] | None:
    """``malloc_trim`` of the C library this process runs on, or None where it has none."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        function = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


_malloc_trim = _glibc_trim()


def available() -> bool:
    """Whether this process can give freed memory back (glibc's ``malloc_trim`` exists)."""
    return _malloc_trim is not None


def trim() -> bool:
    """Collect Python's unreachable cycles, then return every free page to the system.

    True when glibc released something; False when nothing was given back or there is no
    glibc. Blocks its caller for as long as the walk over glibc's free lists takes
    (microseconds when nothing is free, some milliseconds after a large release).
    """
    gc.collect()
    if _malloc_trim is None:
        return False
    return bool(_malloc_trim(0))


async def give_back_forever(period: float = PERIOD) -> None:
    """Every ``period`` seconds, :func:`trim` (a no-op task where there is no glibc)."""
    if not available():
        logger.debug("No malloc_trim in this C library: freed memory stays with the allocator.")
        return
    while True:
        await asyncio.sleep(period)
        started = time.perf_counter()
        released = trim()
        logger.debug(
            "Gave freed memory back (%s) in %.1f ms.",
            "some released" if released else "nothing to release",
            (time.perf_counter() - started) * 1000,
        )
