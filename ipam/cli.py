"""``python -m ipam``: run the controller, or look at pools; arguments in, an exit code out."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import uvloop

from ipam.core import status
from ipam.handlers import context, run
from ipam.kube import client, connection, inventory, leader

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ipam",
        description="IP address manager for Cluster API (Metal3 IPAM compatible).",
    )
    commands = top.add_subparsers(dest="command", required=True)

    runner = commands.add_parser("run", help="run the controller")
    scope = runner.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="serve only this namespace (repeatable)",
    )
    scope.add_argument(
        "--all-namespaces", "-A", action="store_true", help="serve every namespace (the default)"
    )
    runner.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    runner.add_argument(
        "--leader-elect",
        "--leader-election",
        dest="leader_election",
        action="store_true",
        default=True,
        help="take the Lease before acting (the default)",
    )
    runner.add_argument(
        "--no-leader-election",
        dest="leader_election",
        action="store_false",
        help="act at once, without taking the Lease first (only one instance may run!)",
    )
    runner.add_argument(
        "--leader-election-namespace",
        default="metal3-ipam-system",
        metavar="NS",
        help="namespace of the Lease (default: %(default)s)",
    )
    runner.add_argument(
        "--leader-election-id",
        default=leader.LEASE_NAME,
        metavar="NAME",
        help="name of the Lease (default: %(default)s)",
    )
    runner.add_argument(
        "--lease-duration",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long a Lease stays valid without renewal (default: %(default)s)",
    )
    runner.add_argument(
        "--health-port",
        type=int,
        default=8080,
        help="/healthz and /readyz port, 0 = off (default: %(default)s)",
    )
    runner.add_argument(
        "--metrics-port",
        type=int,
        default=8443,
        help="Prometheus /metrics port, 0 = off (default: %(default)s)",
    )
    runner.add_argument(
        "--bind-address",
        default="0.0.0.0",
        help="address the ports listen on (default: %(default)s)",
    )
    runner.add_argument(
        "--resync-period",
        type=float,
        default=context.Options.resync_period,
        metavar="SECONDS",
        help="full re-alignment with the cluster every so often (default: %(default)s)",
    )
    runner.add_argument(
        "--rebind-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long a claim that was served before waits for its IPAddress to arrive "
        "(after a move) before it re-creates its recorded address (default: %(default)s)",
    )
    runner.add_argument(
        "--orphan-grace",
        type=float,
        default=context.Options.orphan_grace,
        metavar="SECONDS",
        help="how long an IPAddress of ours whose claim does not exist is kept before it is "
        "released (default: %(default)s)",
    )
    runner.add_argument(
        "--move-settle",
        type=float,
        default=context.Options.move_settle,
        metavar="SECONDS",
        help="longest wait, for a pool whose recorded addresses have not all arrived (a move "
        "in progress), before it serves claims that hold nothing (default: %(default)s)",
    )
    runner.add_argument("--verbose", "-v", action="store_true", help="debug logging")

    pools = commands.add_parser("pools", help="show pools: usage and who holds what")
    pools.add_argument("--namespace", "-n", help="only this namespace (default: all)")
    pools.add_argument("--kubeconfig", help="kubeconfig file")
    pools.add_argument("--holders", action="store_true", help="list every address and its claim")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return asyncio.run(_pools(args))


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format=LOG_FORMAT)
    if not args.verbose:
        for noisy in ("kopf", "aiohttp.access"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    lease = leader.Timing(
        lease_duration=args.lease_duration,
        renew_deadline=args.lease_duration * 2 / 3,
        retry_period=max(0.5, args.lease_duration / 7.5),
    )
    options = run.RunOptions(
        namespaces=tuple(args.namespace),
        kubeconfig=args.kubeconfig,
        leader_election=args.leader_election,
        leader_election_namespace=args.leader_election_namespace,
        lease_name=args.leader_election_id,
        lease=lease,
        host=args.bind_address,
        health_port=args.health_port,
        metrics_port=args.metrics_port,
        tuning=context.Options(
            resync_period=args.resync_period,
            rebind_grace=args.rebind_grace,
            orphan_grace=args.orphan_grace,
            move_settle=args.move_settle,
        ),
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run.run(options))


async def _pools(args: argparse.Namespace) -> int:
    try:
        api = await client.Client.connect(args.kubeconfig)
    except connection.ConfigurationError as err:
        print(f"error: {err}", file=sys.stderr)
        return run.EXIT_UNREACHABLE
    try:
        views = await inventory.pools(api, args.namespace)
    except client.Unreachable as err:
        print(f"error: cannot reach the API server: {err}", file=sys.stderr)
        return run.EXIT_UNREACHABLE
    except client.KubeError as err:
        hint = " (are the CRDs installed? kubectl apply -f crds/)" if err.status == 404 else ""
        print(f"error: {err}{hint}", file=sys.stderr)
        return run.EXIT_MISCONFIGURED
    finally:
        await api.close()
    print(render(views, holders=args.holders), end="")
    return 0


def render(views: Sequence[inventory.PoolView], *, holders: bool = False) -> str:
    """A table of pools (and, with ``holders``, one line per IPAddress under each)."""
    if not views:
        return "No IPPools found.\n"
    rows = [("NAMESPACE", "POOL", "PREFIX", "TOTAL", "USED", "FREE", "OBJECTS")]
    details: dict[int, list[str]] = {}
    for at, view in enumerate(views):
        total, used = status.usage(
            view.record.pool, view.ledger, deleting=view.record.meta.deleting
        )
        rows.append(
            (
                view.record.meta.namespace,
                view.record.meta.name,
                view.record.name_prefix,
                str(total),
                str(used),
                str(total - used),
                str(len(view.addresses)),
            )
        )
        details[at] = [
            f"    {a.address:<39} {a.flavour.kind:<6} claim={a.claim_name} object={a.meta.name}"
            for a in sorted(view.addresses, key=lambda a: (a.address, a.meta.name))
        ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(rows[0], widths, strict=True)).rstrip()]
    for at, row in enumerate(rows[1:]):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if holders:
            lines.extend(details[at])
    return "\n".join(lines) + "\n"
