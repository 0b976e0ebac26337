"""What the inspection commands share: their scope flags, one API connection, failures as exit codes.

The exit codes are those of ``run``: 2 when the API server cannot be reached (or no
kubeconfig can be loaded), 3 when the CRDs or permissions are missing. 1 is a negative
answer: something would be lost in a move, nothing holds the address.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from ipam.cli import output
from ipam.kube import client, connection, scope

EXIT_OK, EXIT_NEGATIVE, EXIT_UNREACHABLE, EXIT_MISCONFIGURED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_scope(parser: argparse.ArgumentParser) -> None:
    """``--kubeconfig``, ``-n``/``--namespace``, ``-A``/``--all-namespaces`` and ``-o``."""
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--namespace",
        "-n",
        metavar="NS",
        help="look in this namespace (default: the kubeconfig context's, else 'default')",
    )
    where.add_argument(
        "--all-namespaces", "-A", action="store_true", help="look in every namespace"
    )
    parser.add_argument(
        "--output",
        "-o",
        choices=output.FORMATS,
        help="print JSON or YAML for scripts instead of the human view",
    )


def namespace_of(args: argparse.Namespace) -> str | None:
    """The namespace the flags mean; None for every namespace."""
    if args.all_namespaces:
        return None
    return str(args.namespace) if args.namespace else scope.current_namespace(args.kubeconfig)


def where(namespace: str | None) -> str:
    """``namespace demo`` or ``all namespaces``, for sentences."""
    return "all namespaces" if namespace is None else f"namespace {namespace}"


def run(kubeconfig: str | None, work: Callable[[client.Client], Awaitable[int]]) -> int:
    """``work`` on one connection, in its own event loop; Ctrl-C exits quietly with 130."""
    try:
        return asyncio.run(with_api(kubeconfig, work))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def with_api(kubeconfig: str | None, work: Callable[[client.Client], Awaitable[int]]) -> int:
    """Run ``work`` on one connection; a failure becomes one line on stderr and an exit code."""
    try:
        api = await client.Client.connect(kubeconfig)
    except connection.ConfigurationError as err:
        return fail(f"{err}", EXIT_UNREACHABLE)
    try:
        return await work(api)
    except client.Unreachable as err:
        return fail(f"cannot reach the API server: {err}", EXIT_UNREACHABLE)
    except client.KubeError as err:
        return fail(explain(err), EXIT_MISCONFIGURED)
    finally:
        await api.close()


def explain(err: client.KubeError) -> str:
    """The API server's refusal, with what to do about the two usual ones."""
    if err.status == 404:
        return f"{err} (are the CRDs installed? kubectl apply -k crds)"
    if err.status in (401, 403):
        return f"{err} (the kubeconfig's user may not read these objects)"
    return str(err)


def fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
