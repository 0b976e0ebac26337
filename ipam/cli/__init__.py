"""``python -m ipam`` (also the ``ipam`` command): one module per command, arguments in, exit code out.

``run`` runs the controller; ``pools``, ``who`` and ``check-move`` read the cluster and
print, for people by default and as JSON or YAML with ``-o``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ipam.cli import check_move, pools, run, who


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ipam",
        description="IP address manager for Cluster API (Metal3 IPAM compatible).",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, pools, who, check_move):
        module.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code
