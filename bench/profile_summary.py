"""Where a py-spy profile's time goes: the top frames by own and by inclusive samples.

Reads py-spy's raw (collapsed) output, one ``frame;frame;... count`` line per stack, as
``bench/peers_bench.py --profile`` writes it, and prints the share of samples that each
function holds itself and that each of the project's functions holds with its callees::

    python bench/profile_summary.py bench/results/profile-ours-metal3-10000.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """Each stack as its frames, outermost first, each ``function (file)``, with its count."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            frames.append(f"{match['function']} ({match['file']})" if match else frame)
        stacks.append((frames, int(count)))
    return stacks


def summarise(
    stacks: list[tuple[list[str], int]], own_package: str = "ipam/"
) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, samples by innermost frame, samples by each of the package's frames
    with everything it called (counted once per stack)."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if f"({own_package}" in frame:
                inclusive[frame] += count
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    total, own, inclusive = summarise(parse(args.profile.read_text().splitlines()))
    print(f"{total} samples")
    print("\nown samples (innermost frame):")
    for frame, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("\nwith callees, the project's frames:")
    for frame, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
