"""Mutation score: the share of ipam/core's mutants that the unit and property tests kill.

Reads the verdicts `mutmut run` left under mutants/, leaves out the mutants listed in
equivalent.txt (no test can tell them from the original: each line names one and says why),
prints the share killed per module and in total, and exits 1 below the threshold.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
EQUIVALENT = HERE / "equivalent.txt"

# mutmut's exit codes of a mutant's test run: a timeout or a type error also detects it.
DETECTED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout"}
DETECTED |= {255: "timeout", 37: "type check"}
MISSED = {0: "survived", 5: "no tests", 33: "no tests"}


def equivalents(path: Path = EQUIVALENT) -> dict[str, str]:
    """Mutant name -> why it cannot be killed, from `name  # reason` lines."""
    listed: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, reason = line.partition("#")
        if not sep or not reason.strip():
            raise SystemExit(f"{path}: {name.strip()} needs a reason after '#'")
        listed[name.strip()] = reason.strip()
    return listed


def verdicts(root: Path, pattern: str) -> dict[str, dict[str, int | None]]:
    """Module -> mutant name -> mutmut's exit code (None: not run yet)."""
    found: dict[str, dict[str, int | None]] = {}
    for meta in sorted((root / "ipam" / "core").glob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        chosen = {k: v for k, v in codes.items() if fnmatch.fnmatchcase(k, pattern)}
        if chosen:
            found[meta.name.removesuffix(".py.meta")] = chosen
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, required=True, help="lowest share killed, in %%")
    parser.add_argument("--mutants", default="*", help="mutant name glob (default: all)")
    parser.add_argument("--root", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args(argv)

    listed = equivalents()
    by_module = verdicts(args.root, args.mutants)
    if not by_module:
        print(f"no mutant matches {args.mutants!r} under {args.root}/: run mutmut first")
        return 1
    total: Counter[str] = Counter()
    survivors: list[str] = []
    print(f"{'module':<12} {'killed':>7} {'missed':>7} {'equiv':>6} {'unrun':>6} {'share':>7}")
    for module, codes in by_module.items():
        count: Counter[str] = Counter()
        for name, code in codes.items():
            if name in listed:
                count["equivalent"] += 1
            elif code is None:
                count["unrun"] += 1
            elif code in DETECTED:
                count["killed"] += 1
            else:
                count["missed"] += 1
                survivors.append(f"{name}  ({MISSED.get(code, f'exit {code}')})")
        total += count
        print(f"{module:<12} {line(count)}")
    print(f"{'total':<12} {line(total)}")
    if args.survivors:
        print("\n".join(survivors))
    judged = total["killed"] + total["missed"]
    share = 100.0 * total["killed"] / judged if judged else 0.0
    if total["unrun"]:
        print(f"{total['unrun']} mutants not run yet: the run was interrupted")
        return 1
    if share < args.min:
        print(f"{share:.1f}% of the mutants killed, below the {args.min:.1f}% required")
        return 1
    print(f"{share:.1f}% of the mutants killed (at least {args.min:.1f}% required)")
    return 0


def line(count: Counter[str]) -> str:
    judged = count["killed"] + count["missed"]
    share = f"{100.0 * count['killed'] / judged:6.1f}%" if judged else "      -"
    return (
        f"{count['killed']:>7} {count['missed']:>7} {count['equivalent']:>6} "
        f"{count['unrun']:>6} {share}"
    )


if __name__ == "__main__":
    sys.exit(main())
