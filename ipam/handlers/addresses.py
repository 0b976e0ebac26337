"""IPAddress objects of both kinds: the ledger follows their events; orphans and deletions settle.

A watch event updates the ledger at once (no API call), then puts keys on the queues: the
pool (its status), the claim (an address arrived after a move, a claim holds several, or
the object lost our finalizer, its owners or the claim's labels and needs them back),
and the address itself when it needs a decision: being deleted (our finalizer comes off
once its claim is gone or it moves), or naming a claim that does not exist (released after
``--orphan-grace``; a claim deleted while its address was being created leaves one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from ipam.handlers import context, pause, release
from ipam.kube import bodies, resources

logger = logging.getLogger("ipam.addresses")


def observe(ctx: context.Context, flavour: resources.Flavour, body: Mapping[str, Any]) -> None:
    """Feed one listed or changed IPAddress into the ledger and schedule what follows."""
    fact = bodies.address_fact(bodies.address_record(flavour, body))
    before = ctx.registry.fact(fact.kind, fact.namespace, fact.name)
    if before is not None and ctx.registry.stale_address(fact):
        logger.debug(
            "%s %s/%s: a late event (uid %s, resourceVersion %s) ignored: uid %s at %s is known.",
            flavour.address.kind,
            fact.namespace,
            fact.name,
            fact.uid,
            fact.version,
            before.uid,
            before.version,
        )
        return
    changed = ctx.registry.observe_address(fact)
    if not fact.pool_name:
        return
    if changed is not None:
        ctx.holdings_changed(changed)
        ctx.claim(context.ClaimRef(fact.kind, fact.namespace, fact.claim_name))
    elif before is not None and _metadata(before) != _metadata(fact):
        # Same holding, but its finalizer, owners or labels changed (taken off by hand?):
        # the claim's reconcile puts back what is missing.
        ctx.claim(context.ClaimRef(fact.kind, fact.namespace, fact.claim_name))
    if fact.deleting and fact.ours:
        ctx.address(context.AddressRef(fact.kind, fact.namespace, fact.name))


def _metadata(fact: bodies.AddressFact) -> tuple[object, ...]:
    """What the claim's reconcile repairs on the object."""
    return (fact.ours, fact.owners, fact.labels)


def on_event(
    ctx: context.Context, flavour: resources.Flavour, event: str | None, body: Mapping[str, Any]
) -> None:
    if event != "DELETED":
        observe(ctx, flavour, body)
        return
    record = bodies.address_record(flavour, body)
    found = ctx.registry.forget_address(
        flavour.kind, record.meta.namespace, record.meta.name, record.meta.uid
    )
    if found is None:
        return
    pool_state, fact = found
    if fact.delete_for_move or record.meta.delete_for_move:
        # clusterctl takes the address away with a move; its claim follows shortly, and
        # the address stays taken here: the claim holds it on in the target.
        ctx.registry.moved_away.add((fact.namespace, fact.claim))
        pool_state.keep_moved(fact.holding)
    ctx.holdings_changed(pool_state)
    ctx.wake_waiting(pool_state)
    ctx.claim(context.ClaimRef(fact.kind, fact.namespace, fact.claim_name))


async def reconcile(ctx: context.Context, ref: context.AddressRef) -> float | None:
    """Settle one IPAddress of ours: let a deleted one go, release an orphan after its grace."""
    fact = ctx.registry.fact(ref.kind, ref.namespace, ref.name)
    if fact is None or not fact.pool_name or not fact.ours:
        ctx.registry.orphans.pop((ref.namespace, (ref.kind, ref.name)), None)
        return None
    if fact.deleting:
        await release.let_go(ctx, fact)
        return None
    flavour = resources.FLAVOURS[ref.kind]
    key = (ref.namespace, fact.identity)
    claim = await ctx.api.get(flavour.claim, ref.namespace, fact.claim_name)
    if claim is not None:
        ctx.registry.orphans.pop(key, None)
        return None
    pool_state = ctx.registry.find_pool(fact.namespace, fact.pool_name)
    if pool_state is None:
        return None
    if pool_state.record is not None and await pause.pool_hold(ctx, pool_state.record) is not None:
        return None
    now = time.monotonic()
    since = ctx.registry.orphans.setdefault(key, now)
    left = ctx.options.orphan_grace - (now - since)
    if left > 0:
        return left
    ctx.registry.orphans.pop(key, None)
    await release.release_orphan(
        ctx, pool_state, fact, why=f"its claim {fact.claim_name} does not exist"
    )
    return None
