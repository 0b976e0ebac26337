"""The workers: take a key, reconcile it, and schedule it again on error or on request.

A reconcile returns None when it is done (its backoff is reset) or a number of seconds
after which it wants to look again (a wait it knows the end of). A worker lets the event
loop run between two keys. An API error schedules a
retry with the key's exponential backoff; an unexpected exception does too, after logging
it with its traceback: one bad object never stops a worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ipam.handlers import addresses, claims, context, pools, workqueue
from ipam.kube import client

logger = logging.getLogger("ipam.scheduler")

K = TypeVar("K", bound=tuple[str, ...])
Reconcile = Callable[[context.Context, K], Awaitable[float | None]]


async def _work(
    ctx: context.Context,
    queue: workqueue.WorkQueue[K],
    reconcile: Reconcile[K],
    what: str,
) -> None:
    while True:
        try:
            key = await queue.get()
        except workqueue.ShutDown:
            return
        try:
            again = await reconcile(ctx, key)
        except client.KubeError as err:
            ctx.metrics.api_errors.labels(what).inc()
            delay = queue.add_rate_limited(key)
            logger.warning(
                "%s %s: %s; trying again in %.1fs.", what, "/".join(key[-2:]), err, delay
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = queue.add_rate_limited(key)
            logger.exception(
                "%s %s failed; trying again in %.1fs.", what, "/".join(key[-2:]), delay
            )
        else:
            queue.forget(key)
            if again is not None:
                queue.add_after(key, again)
        finally:
            queue.done(key)
        # A reconcile that finds the claim right makes no API call and never waits: without
        # this, one worker would run through thousands of queued re-checks (a restart lists
        # them all) while the loop answered nothing else, a new claim's writes included.
        await asyncio.sleep(0)


def start(ctx: context.Context) -> list[asyncio.Task[None]]:
    """The workers of every queue, as tasks (cancel them, or shut the queues down, to stop)."""
    options = ctx.options
    plan: list[tuple[workqueue.WorkQueue[Any], Reconcile[Any], str, int]] = [
        (ctx.claims, claims.reconcile, "claim", options.concurrency),
        (ctx.pools, pools.reconcile, "pool", options.pool_workers),
        (ctx.addresses, addresses.reconcile, "address", options.address_workers),
    ]
    return [
        asyncio.create_task(_work(ctx, queue, reconcile, what), name=f"{what}-worker-{n}")
        for queue, reconcile, what, count in plan
        for n in range(count)
    ]
