"""What a pool can hand out: its own ledger plus what others hold inside its ranges.

Allocation and the ``free`` counter read the same view, so the pool never reports an
address as free that allocation would refuse. Besides the pool's own holdings the view
counts addresses of its ranges held through an overlapping pool, and addresses whose
IPAddress name another pool's object already took (a shared namePrefix).
"""

from __future__ import annotations

from collections.abc import Iterable

from ipam.core import ledger, pools


def outsider(
    address: str, pool_name: str, claim: ledger.ClaimKey, object_name: str
) -> ledger.Holding:
    """A holding from outside the pool; its claim name can never equal a real one."""
    return ledger.Holding(
        address, ledger.ClaimKey(claim.kind, f"\0{pool_name}/{claim.name}"), f"\0{object_name}"
    )


def allocation_view(
    book: ledger.Ledger,
    pool: pools.Pool,
    others: Iterable[tuple[str, ledger.Ledger]],
    blocked: Iterable[ledger.Holding] = (),
) -> ledger.Ledger:
    """The pool's ledger, plus holdings of other pools inside its ranges, plus ``blocked``.

    ``others`` are (pool name, ledger) of the pools whose ranges overlap this one;
    ``blocked`` are outsiders (see :func:`outsider`) for names taken by other pools.
    Returns ``book`` itself when nothing is added (no copy).
    """
    extra: list[ledger.Holding] = []
    for name, other in others:
        for holding in other.holdings():
            if pool.contains(holding.address) and not book.is_used(holding.address):
                extra.append(outsider(holding.address, name, holding.claim, holding.object_name))
    extra.extend(blocked)
    if not extra:
        return book
    view = book.copy()
    for holding in extra:
        view.add(holding)
    return view
