"""``ipam pools``: each pool's usage as a bar and in human units, its conditions and warnings.

Usage is computed here from the IPAddress objects, exactly as the controller computes the
pool status (held plus pre-allocated addresses), so it is right even while no controller
runs and for pools larger than the status counters can hold. ``--watch`` reads and prints
again every ``--interval`` seconds until interrupted: on a terminal it redraws the screen,
otherwise it appends one frame after the other (one JSON document per line with ``-o
json``, ``---``-separated documents with ``-o yaml``). SIGINT (Ctrl-C) or SIGTERM ends it with 0.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

from ipam.cli import output, session
from ipam.core import addresses, ledger, status, units, usage, whois
from ipam.kube import bodies, client, survey

BAR_WIDTH = 20
DEFAULT_WARN_AT = Fraction(80)
QUIET_CONDITIONS = ("Ready",)
T = TypeVar("T")


@dataclass(frozen=True)
class PoolView:
    """One pool as the command shows it."""

    record: bodies.PoolRecord
    usage: usage.Usage
    objects: int
    held: tuple[whois.Held, ...]
    conditions: tuple[survey.Condition, ...]
    warnings: tuple[str, ...]
    warned: bool


def add_parser(commands: session.Commands) -> None:
    pools = commands.add_parser(
        "pools",
        help="each pool's usage, conditions and warnings",
        description="Show each IPPool's usage (held and pre-allocated addresses), its "
        "conditions, and a warning for every pool at or above --warn-at percent used.",
    )
    session.add_scope(pools)
    pools.add_argument(
        "--holders", action="store_true", help="list every address under its pool, with its claim"
    )
    pools.add_argument(
        "--warn-at",
        type=_percent,
        default=DEFAULT_WARN_AT,
        metavar="PERCENT",
        help="warn about pools at least this full (default: 80)",
    )
    pools.add_argument(
        "--watch", "-w", action="store_true", help="print again every --interval seconds"
    )
    pools.add_argument(
        "--interval",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="seconds between two frames of --watch (default: %(default)s)",
    )
    pools.set_defaults(handler=command)


def _percent(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a percentage is between 0 and 100, not {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the interval must be positive, not {text}")
    return value


def command(args: argparse.Namespace) -> int:
    namespace = session.namespace_of(args)
    style = output.Style.of(sys.stdout)

    async def work(api: client.Client) -> int:
        if not args.watch:
            views = await read(api, namespace, args.warn_at)
            sys.stdout.write(frame(views, args, namespace, style))
            return session.EXIT_OK
        await watch(api, args, namespace, style)
        return session.EXIT_OK

    return session.run(args.kubeconfig, work)


async def watch(
    api: client.Client, args: argparse.Namespace, namespace: str | None, style: output.Style
) -> None:
    """Print a frame every ``args.interval`` seconds until SIGINT or SIGTERM.

    A failed read is printed in place of the frame, and the next one is tried.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        now = datetime.datetime.now().astimezone()
        header = f"Every {args.interval:g}s: ipam pools in {session.where(namespace)}"
        try:
            views = await _unless(stop, read(api, namespace, args.warn_at))
        except client.KubeError as err:
            text = _failed(err, args.output)
        else:
            if views is None:
                break
            text = frame(views, args, namespace, style)
        if args.output == "json":
            sys.stdout.write(text)
        elif args.output == "yaml":
            sys.stdout.write("---\n" + text)
        elif style.terminal:
            sys.stdout.write(f"{output.CLEAR_SCREEN}{header}    {now:%Y-%m-%d %H:%M:%S}\n\n{text}")
        else:
            sys.stdout.write(f"{header}    {now:%Y-%m-%d %H:%M:%S}\n{text}\n")
        sys.stdout.flush()
        await _unless(stop, asyncio.sleep(args.interval))


async def _unless(stop: asyncio.Event, work: Coroutine[Any, Any, T]) -> T | None:
    """``work``'s result, or None as soon as ``stop`` is set (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not task.done():
        task.cancel()
        return None
    return task.result()


def _failed(err: client.KubeError, fmt: str | None) -> str:
    message = f"cannot read the pools: {session.explain(err)}"
    if fmt:
        return output.dump({"error": message}, fmt, compact=True)
    return f"error: {message}\n"


def frame(
    views: Sequence[PoolView], args: argparse.Namespace, namespace: str | None, style: output.Style
) -> str:
    if args.output:
        data = document(views, namespace=namespace, holders=args.holders)
        return output.dump(data, args.output, compact=args.watch)
    now = datetime.datetime.now(datetime.UTC)
    return human(views, style, namespace=namespace, holders=args.holders, now=now)


async def read(api: client.Client, namespace: str | None, warn_at: Fraction) -> list[PoolView]:
    """Every pool in scope with its usage, conditions and warnings."""
    found = await survey.read(api, namespace, claims=False)
    by_pool: dict[tuple[str, str], list[bodies.AddressRecord]] = {}
    for address in found.addresses:
        by_pool.setdefault((address.meta.namespace, address.pool_name), []).append(address)
    held_by_pool: dict[tuple[str, str], list[whois.Held]] = {}
    for held in found.held():
        held_by_pool.setdefault((held.namespace, held.pool), []).append(held)
    views = []
    for record in found.pools:
        records = by_pool.get(record.meta.key, [])
        book = ledger.Ledger(r.holding for r in records)
        total, used = status.usage(record.pool, book, deleting=record.meta.deleting)
        share = usage.Usage(total, used)
        conditions = survey.conditions(record.status)
        warned = share.reaches(warn_at)
        views.append(
            PoolView(
                record=record,
                usage=share,
                objects=len(records),
                held=tuple(sorted(held_by_pool.get(record.meta.key, []), key=_address_order)),
                conditions=conditions,
                warnings=tuple(warnings_of(share, conditions, warn_at, warned=warned)),
                warned=warned,
            )
        )
    return views


def _address_order(held: whois.Held) -> tuple[int, str, str]:
    value = addresses.key_of(held.address)
    return (-1 if value is None else value, held.address, held.object_name)


def warnings_of(
    share: usage.Usage,
    conditions: Sequence[survey.Condition],
    warn_at: Fraction,
    *,
    warned: bool,
) -> list[str]:
    """The lines a person should read about a pool: the threshold, then troubled conditions."""
    found = []
    if warned:
        found.append(
            f"{share.percent_text()} used, {units.count(share.free)} of "
            f"{units.count(share.total)} addresses free (warning at {_number(warn_at)}%)"
        )
    for condition in conditions:
        if condition.type == "Ready" and condition.status == "False":
            found.append(f"not Ready: {condition.reason}: {condition.message}")
        elif condition.type not in QUIET_CONDITIONS and condition.status == "True":
            found.append(f"{condition.type}: {condition.message}")
    return found


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def status_cell(conditions: Sequence[survey.Condition], style: output.Style) -> output.Cell:
    """``Ready``, or what is wrong: the reason Ready is False, and every other true condition."""
    if not conditions:
        return "-"
    parts = []
    ready = next((c for c in conditions if c.type == "Ready"), None)
    if ready is not None and ready.status == "True":
        parts.append("Ready")
    elif ready is not None:
        parts.append(ready.reason or "NotReady")
    parts += [c.type for c in conditions if c.type not in QUIET_CONDITIONS and c.status == "True"]
    text = ",".join(parts) or "-"
    return style.cell(text, None if text == "Ready" else "red")


def usage_cell(share: usage.Usage, warned: bool, style: output.Style) -> output.Cell:
    """The bar and the percentage: green, yellow at the warning threshold, red when full."""
    colour = "red" if share.total and share.free == 0 else "yellow" if warned else "green"
    bar = style.bar(share.cells(BAR_WIDTH), BAR_WIDTH, colour)
    return output.join(bar, style.cell(f"{share.percent_text():>4}", colour if warned else None))


def human(
    views: Sequence[PoolView],
    style: output.Style,
    *,
    namespace: str | None,
    holders: bool,
    now: datetime.datetime,
) -> str:
    """The table of pools, the holders under each (if asked), then the warnings."""
    if not views:
        hint = "" if namespace is None else " (-A looks in every namespace)"
        return f"No IPPools in {session.where(namespace)}{hint}.\n"
    every = namespace is None
    header = [*(["NAMESPACE"] if every else []), "POOL", "USAGE", "TOTAL", "USED", "FREE", "STATUS"]
    rows: list[list[output.Cell]] = [
        [
            *([view.record.meta.namespace] if every else []),
            view.record.meta.name,
            usage_cell(view.usage, view.warned, style),
            units.count(view.usage.total),
            units.count(view.usage.used),
            units.count(view.usage.free),
            status_cell(view.conditions, style),
        ]
        for view in views
    ]
    first = 1 if every else 0
    lines = output.table(header, rows, style, right={first + 2, first + 3, first + 4})
    body = [lines[0]]
    for view, line in zip(views, lines[1:], strict=True):
        body.append(line)
        if holders:
            body.extend(holder_lines(view, style, now))
    notes = [
        style.paint(f"! {_name(view, every)}: {text}", "yellow")
        for view in views
        for text in view.warnings
    ]
    if notes:
        body += ["", *notes]
    return "\n".join(body) + "\n"


def holder_lines(view: PoolView, style: output.Style, now: datetime.datetime) -> list[str]:
    """One indented line per IPAddress of the pool: address, claim, object, age."""
    if not view.held:
        return [style.paint("    (no addresses held)", "dim")]
    rows: list[list[output.Cell]] = [
        [h.address, h.claim_ref, h.object_name, units.age(h.since, now)] for h in view.held
    ]
    return output.table(["ADDRESS", "CLAIM", "OBJECT", "AGE"], rows, style, indent="    ")


def _name(view: PoolView, every: bool) -> str:
    meta = view.record.meta
    return f"{meta.namespace}/{meta.name}" if every else meta.name


def document(views: Sequence[PoolView], *, namespace: str | None, holders: bool) -> dict[str, Any]:
    """The pools as data: exact integers (a /64 is 18446744073709551616 here), no styling."""
    return {
        "namespace": namespace,
        "pools": [_pool_data(view, holders) for view in views],
    }


def _pool_data(view: PoolView, holders: bool) -> dict[str, Any]:
    meta = view.record.meta
    data: dict[str, Any] = {
        "namespace": meta.namespace,
        "name": meta.name,
        "namePrefix": view.record.name_prefix,
        "total": view.usage.total,
        "used": view.usage.used,
        "free": view.usage.free,
        "usedPercent": view.usage.percent,
        "addressObjects": view.objects,
        "conditions": [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message}
            for c in view.conditions
        ],
        "warnings": list(view.warnings),
    }
    if holders:
        data["addresses"] = [
            {
                "address": h.address,
                "claimKind": whois.CLAIM_KINDS[h.claim_kind],
                "claim": h.claim,
                "object": h.object_name,
                "since": h.since,
            }
            for h in view.held
        ]
    return data
