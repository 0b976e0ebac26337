"""``ipam run``: the controller's flags in, the controller's exit code out."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import uvloop

from ipam.cli import session
from ipam.core import status
from ipam.handlers import context
from ipam.kube import leader

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def add_parser(commands: session.Commands) -> None:
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
        "--max-status-indexes",
        type=_indexes_limit,
        default=context.Options.indexes_limit,
        metavar="N",
        help="most claims a pool's status.indexes lists; past it the field is left out and "
        f"status.indexesOmitted counts them (0-{status.INDEXES_CEILING}, default: %(default)s)",
    )
    runner.add_argument(
        "--move-settle",
        type=float,
        default=context.Options.move_settle,
        metavar="SECONDS",
        help="how long a pool whose recorded addresses have not all arrived (a move in "
        "progress) waits after the last one that did before it serves claims that hold "
        "nothing (default: %(default)s)",
    )
    webhook = runner.add_argument_group(
        "admission webhook", "served by every instance, leader or not, when a port is given"
    )
    webhook.add_argument(
        "--webhook-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the validating webhook (HTTPS) on this port, 0 = off (default: %(default)s)",
    )
    webhook.add_argument(
        "--webhook-cert-file",
        metavar="PATH",
        help="serving certificate (PEM), for example cert-manager's tls.crt; read again "
        "when it changes",
    )
    webhook.add_argument("--webhook-key-file", metavar="PATH", help="its private key (PEM)")
    webhook.add_argument(
        "--webhook-host",
        action="append",
        default=[],
        metavar="NAME",
        help="without certificate files: a name or IP for a self-signed certificate "
        "(repeatable; default: localhost and 127.0.0.1); for development only",
    )
    webhook.add_argument(
        "--webhook-ca-file",
        metavar="PATH",
        help="write the self-signed certificate here: the caBundle to register",
    )
    runner.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    runner.set_defaults(handler=command)


def _indexes_limit(text: str) -> int:
    wanted = f"a whole number between 0 and {status.INDEXES_CEILING}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {wanted}") from None
    if not 0 <= value <= status.INDEXES_CEILING:
        raise argparse.ArgumentTypeError(f"{value} is not {wanted}")
    return value


def command(args: argparse.Namespace) -> int:
    from ipam.handlers import admission, context, run  # only here: Kopf takes a while to import

    if bool(args.webhook_cert_file) != bool(args.webhook_key_file):
        print(
            "ipam run: give both --webhook-cert-file and --webhook-key-file, or neither",
            file=sys.stderr,
        )
        return 2

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
            indexes_limit=args.max_status_indexes,
        ),
        webhook=admission.Options(
            port=args.webhook_port,
            host=args.bind_address,
            cert_file=args.webhook_cert_file,
            key_file=args.webhook_key_file,
            hostnames=tuple(args.webhook_host) or admission.Options.hostnames,
            ca_file=args.webhook_ca_file,
        ),
    )
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run.run(options))
