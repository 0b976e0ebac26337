"""The IPPool status as a projection of the ledger: the same holdings always give the same status.

``indexes`` (claim name -> address) and ``lastUpdated`` keep Metal3 IPAM's meaning: one
entry per claim name (a CAPI claim overwrites a Metal3 claim of the same name, as
upstream's second pass does), and ``lastUpdated`` moves only when ``indexes`` changes, so a
reconcile that finds nothing new writes nothing (upstream #12, #1071).

``indexes`` is all or nothing: it lists every claim while at most ``indexes_limit`` claims
hold addresses, and is left out past that, with ``indexesOmitted`` counting the claims
it would list. One entry per claim would otherwise outgrow the object (etcd refuses
objects above 1.5 MiB, about 40,000 entries of short names) long before the pool runs
out. Clients read the claim's status and its IPAddress, never these entries; the count
of what is held stays in ``used``. ``lastUpdated`` then moves when that count does.

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
INDEXES_LIMIT = 1000
"""Most claims ``indexes`` lists by default: at most ~300 KB with the longest claim names
(253 characters) and IPv6 addresses, ~60 KB with names of 40."""
INDEXES_CEILING = 4096
"""Highest limit accepted: 4,096 entries of the longest names still fit in 1.5 MiB."""


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
    indexes_limit: int = INDEXES_LIMIT,
) -> dict[str, Any]:
    """The full desired ``status`` of the pool (conditions excepted: the controller adds them).

    A field whose value is None is one the status must not hold.
    """
    current = indexes(book)
    listed = current if len(current) <= indexes_limit else {}
    omitted = len(current) - len(listed)
    previous = previous if isinstance(previous, Mapping) else {}
    old_indexes = previous.get("indexes") or {}
    old_omitted = previous.get("indexesOmitted") or 0
    last_updated = previous.get("lastUpdated") or creation
    if listed != old_indexes or omitted != old_omitted:
        last_updated = now
    total, used = usage(pool, book, deleting=deleting)
    return {
        "indexes": listed,
        "indexesOmitted": omitted or None,
        "lastUpdated": last_updated,
        "total": min(total, INT64_MAX),
        "used": min(used, INT64_MAX),
        "free": min(total - used, INT64_MAX),
        "capacityOverflow": total > INT64_MAX,
    }
