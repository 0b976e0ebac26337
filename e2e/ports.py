"""Loopback ports for the harness's servers, chosen outside the kernel's ephemeral range.

A port that the kernel hands out for ``bind(0)`` comes from the same range it uses for the
source ports of outgoing connections, so between choosing it and the server binding it, a
client connection (kube-apiserver to etcd, say) can take it. Ports below that range are
only ever taken by servers, and a random one that binds now is almost surely still free
when the server starts a moment later.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000
_taken: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port that binds now, below the ephemeral range, not handed out before."""
    high = max(_LOWEST + 1000, _ephemeral_start() - 1)
    for _ in range(200):
        port = random.randint(_LOWEST, high)
        if port in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError(f"no free loopback port between {_LOWEST} and {high}")
