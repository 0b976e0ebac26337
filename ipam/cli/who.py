"""``ipam who IP|CLAIM``: which claim holds an address, from which pool, since when; or the reverse.

An address is matched by value in either family; anything else is a claim name, looked up
among Metal3 IPClaims and Cluster API IPAddressClaims alike. Exit code 1 when nothing
holds the address, or when no claim of that name exists.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from ipam.cli import output, session
from ipam.core import units, whois
from ipam.kube import client, survey


def add_parser(commands: session.Commands) -> None:
    who = commands.add_parser(
        "who",
        help="which claim holds an address, or which addresses a claim holds",
        description="Given an IP address: the claim that holds it, from which pool, since "
        "when (the IPAddress's creation). Given a claim name (either kind): its addresses.",
    )
    who.add_argument("query", metavar="IP|CLAIM", help="an IP address, or a claim's name")
    session.add_scope(who)
    who.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    namespace = session.namespace_of(args)

    async def work(api: client.Client) -> int:
        found = await survey.read(api, namespace)
        answer = whois.lookup(args.query, found.held(), found.claim_facts(), found.named_pools())
        if args.output:
            sys.stdout.write(output.dump(document(answer, namespace), args.output))
        else:
            now = datetime.datetime.now(datetime.UTC)
            sys.stdout.write(human(answer, namespace, output.Style.of(sys.stdout), now))
        return session.EXIT_OK if answer.found else session.EXIT_NEGATIVE

    return session.run(args.kubeconfig, work)


def human(
    answer: whois.Answer, namespace: str | None, style: output.Style, now: datetime.datetime
) -> str:
    lines = []
    every = namespace is None
    if answer.held:
        header = [
            *(["NAMESPACE"] if every else []),
            "ADDRESS",
            "POOL",
            "CLAIM",
            "OBJECT",
            "SINCE",
            "AGE",
        ]
        rows: list[list[output.Cell]] = [
            [
                *([h.namespace] if every else []),
                h.address,
                h.pool,
                h.claim_ref,
                h.object_name,
                h.since,
                units.age(h.since, now),
            ]
            for h in answer.held
        ]
        lines += output.table(header, rows, style)
    for claim in answer.idle_claims:
        reason = f": {claim.error}" if claim.error else " yet"
        where = f" in namespace {claim.namespace}" if every else ""
        lines.append(f"{claim.ref}{where} holds no address{reason}")
    if answer.address is not None and not answer.held:
        lines.append(_free_address(answer, namespace))
    if answer.address is None and not answer.found:
        lines.append(f"No claim named {answer.query} in {session.where(namespace)}.")
    return "\n".join(lines) + "\n"


def _free_address(answer: whois.Answer, namespace: str | None) -> str:
    address = answer.address
    if not answer.producers:
        return (
            f"{address} is held by no claim, and no pool in {session.where(namespace)} produces it."
        )
    parts = []
    for producer in answer.producers:
        name = producer.name if namespace is not None else f"{producer.namespace}/{producer.name}"
        reserved = (
            f", pre-allocated to claim {', '.join(producer.reserved_for)}"
            if producer.reserved_for
            else ""
        )
        parts.append(f"pool {name}{reserved}")
    return f"{address} is held by no claim; it is free in {'; '.join(parts)}."


def document(answer: whois.Answer, namespace: str | None) -> dict[str, Any]:
    return {
        "query": answer.query,
        "namespace": namespace,
        "address": answer.address,
        "holders": [
            {
                "namespace": h.namespace,
                "address": h.address,
                "pool": h.pool,
                "claimKind": whois.CLAIM_KINDS[h.claim_kind],
                "claim": h.claim,
                "object": h.object_name,
                "since": h.since,
            }
            for h in answer.held
        ],
        "idleClaims": [
            {
                "namespace": c.namespace,
                "kind": whois.CLAIM_KINDS[c.kind],
                "name": c.name,
                "pool": c.pool,
                "error": c.error,
            }
            for c in answer.idle_claims
        ],
        "pools": [
            {"namespace": p.namespace, "name": p.name, "reservedFor": list(p.reserved_for)}
            for p in answer.producers
        ],
    }
