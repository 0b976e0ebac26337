"""``ipam check-move``: before ``clusterctl move``, what would not survive it; exit 1 if anything.

The rules are those of :mod:`ipam.core.move_check`, judged against what clusterctl would
see in this cluster: its labels on the installed CRDs, and every owner chain above our
objects. Like ``clusterctl move``, it looks at the kubeconfig context's namespace unless
told otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ipam.cli import output, session
from ipam.core import move_check
from ipam.kube import client, move_survey

LISTED_PER_CODE = 20


def add_parser(commands: session.Commands) -> None:
    check = commands.add_parser(
        "check-move",
        help="what clusterctl move would lose; exit 1 if anything",
        description="Before clusterctl move: find pools, claims and addresses it would leave "
        "behind, addresses whose claim is gone, duplicate addresses, claims holding several "
        "addresses, and claims carrying another controller's finalizer. Exit 1 when "
        "something would be lost, 0 when everything moves.",
    )
    session.add_scope(check)
    check.add_argument(
        "--limit",
        type=int,
        default=LISTED_PER_CODE,
        metavar="N",
        help="objects listed per problem in the human view (default: %(default)s; "
        "-o json lists all)",
    )
    check.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    namespace = session.namespace_of(args)

    async def work(api: client.Client) -> int:
        facts = await move_survey.read(api, namespace)
        findings = facts.findings()
        if args.output:
            sys.stdout.write(output.dump(document(facts, findings, namespace), args.output))
        else:
            style = output.Style.of(sys.stdout)
            sys.stdout.write(human(facts, findings, namespace, style, limit=args.limit))
        return session.EXIT_NEGATIVE if findings else session.EXIT_OK

    return session.run(args.kubeconfig, work)


def human(
    facts: move_survey.Facts,
    findings: Sequence[move_check.Finding],
    namespace: str | None,
    style: output.Style,
    *,
    limit: int,
) -> str:
    ours = sum(1 for c in facts.claims if c.ours)
    lines = [
        f"Checked {session.where(namespace)}: {_many(len(facts.pools), 'pool')}, "
        f"{_many(ours, 'claim')}, {_many(len(facts.addresses), 'address', 'addresses')}."
    ]
    for code in move_check.CODES:
        found = [f for f in findings if f.code == code]
        if not found:
            continue
        lines += ["", style.paint(f"{code}: {move_check.TITLES[code]} ({len(found)})", "bold")]
        for finding in found[:limit]:
            where = f" -n {finding.object.namespace}" if namespace is None else ""
            lines.append(f"  {style.paint(finding.object.ref, 'red')}{where}")
            lines.append(f"      {finding.message}")
            if finding.remedy:
                lines.append(style.paint(f"      fix: {finding.remedy}", "dim"))
        if len(found) > limit:
            lines.append(f"  ... and {len(found) - limit} more (-o json lists every one)")
    lines.append("")
    if findings:
        lines.append(
            style.paint(
                f"{_many(len(findings), 'problem')}: clusterctl move would lose what is listed "
                "above.",
                "red",
            )
        )
    else:
        lines.append(
            style.paint("No problem: clusterctl move takes every pool, claim and address.", "green")
        )
    return "\n".join(lines) + "\n"


def _many(n: int, one: str, more: str | None = None) -> str:
    return f"{n} {one if n == 1 else more or one + 's'}"


def document(
    facts: move_survey.Facts, findings: Sequence[move_check.Finding], namespace: str | None
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "ok": not findings,
        "checked": {
            "pools": len(facts.pools),
            "claims": sum(1 for c in facts.claims if c.ours),
            "addresses": len(facts.addresses),
        },
        "problems": dict(move_check.summary(findings)),
        "findings": [
            {
                "code": f.code,
                "cause": f.cause,
                "apiGroup": f.object.group,
                "kind": f.object.kind,
                "namespace": f.object.namespace,
                "name": f.object.name,
                "ref": f.object.ref,
                "message": f.message,
                "remedy": f.remedy,
            }
            for f in findings
        ],
    }
