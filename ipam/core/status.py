"""The IPPool status as a projection of the ledger: the same holdings always give the same status.

``indexes`` (claim name -> address) and ``lastUpdated`` keep Metal3 IPAM's meaning: one
entry per claim name (a CAPI claim overwrites a Metal3 claim of the same name, as
upstream's second pass does), and ``lastUpdated`` moves only when ``indexes`` changes, so a
reconcile that finds nothing new writes nothing (upstream #12, #1071).

The counters are additive: ``total`` addresses the entries produce, ``used`` of them held or
reserved by a preAllocation, ``free`` the rest (what dynamic allocation can still hand
out), each clamped to the int64 the CRD can store, with ``capacityOverflow`` telling when
``total`` was clamped. They cost a few interval-set lookups per pool region, never a walk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ipam.core import ledger, pools

INT64_MAX = 2**63 - 1


def indexes(book: ledger.Ledger) -> dict[str, str]:
    """Claim name -> address, Metal3 claims first and CAPI claims over them."""
    claims = sorted({holding.claim for holding in book.holdings()}, key=_metal3_first)
    result: dict[str, str] = {}
    for claim in claims:
        holding = book.held_by(claim)
        if holding is not None:
            result[claim.name] = holding.address
    return result


def _metal3_first(claim: ledger.ClaimKey) -> tuple[bool, str]:
    return claim.kind != ledger.METAL3, claim.name


def usage(pool: pools.Pool, book: ledger.Ledger, *, deleting: bool = False) -> tuple[int, int]:
    """(total, unavailable): addresses of the pool, and those held or pre-allocated."""
    used = book.used_keys
    unavailable = 0
    for lo, hi in pool.regions():
        unavailable += used.count_in(lo, hi)
        if deleting:
            continue
        for start, end in pool.reserved.intervals(start_at=lo):
            if start > hi:
                break
            for value in range(max(start, lo), min(end, hi) + 1):
                unavailable += not used.contains(value)
    return pool.total, unavailable


def pool_status(
    pool: pools.Pool,
    book: ledger.Ledger,
    previous: Mapping[str, Any],
    *,
    now: str,
    creation: str,
    deleting: bool = False,
) -> dict[str, Any]:
    """The full desired ``status`` of the pool (conditions excepted: the controller adds them)."""
    current = indexes(book)
    previous = previous if isinstance(previous, Mapping) else {}
    old_indexes = previous.get("indexes") or {}
    last_updated = previous.get("lastUpdated") or creation
    if current != old_indexes:
        last_updated = now
    total, used = usage(pool, book, deleting=deleting)
    return {
        "indexes": current,
        "lastUpdated": last_updated,
        "total": min(total, INT64_MAX),
        "used": min(used, INT64_MAX),
        "free": min(total - used, INT64_MAX),
        "capacityOverflow": total > INT64_MAX,
    }
