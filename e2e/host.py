"""What a harness node takes from the host, taken per slot and given back: addresses, bridge, cgroups.

A node needs a few names that are global to the machine: an address for the API server's
Service IP on ``lo``, a CNI bridge and its pod subnet, a cgroup parent. Each node takes a
numbered :class:`Slot` under an exclusive lock (``flock``, released when its process
ends, however it ends), so two test sessions on one machine never share one, and the
leftovers of a session that was killed are removed by the next holder of its slot.
:func:`unavailable` says in one sentence why this machine cannot run a node at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from e2e.toolchain import Tools

LOCK_DIR = Path("/run/lock/capi-ipam")
SLOTS = range(1, 64)
CNI_DIR = Path("/usr/lib/cni")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROGRAMS = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "mmdebstrap": "mmdebstrap",
    "gcc": "gcc",
    "unshare": "util-linux",
    "ip": "iproute2",
}


@dataclass(frozen=True)
class Slot:
    """Host-global names of one node: all derived from its number."""

    number: int

    @property
    def service_cidr(self) -> str:
        return f"10.0.{self.number}.0/24"

    @property
    def service_ip(self) -> str:
        """The ``kubernetes`` Service's ClusterIP, put on ``lo`` while the node runs."""
        return f"10.0.{self.number}.1"

    @property
    def pod_subnet(self) -> str:
        return f"10.88.{self.number}.0/24"

    @property
    def bridge(self) -> str:
        return f"ipamnode{self.number}"

    @property
    def network(self) -> str:
        return f"capi-ipam-node{self.number}"

    @property
    def cgroup_parent(self) -> str:
        return f"capi-ipam-node{self.number}"


class SlotLease:
    """An exclusive hold on one slot; the lock file stays open until :meth:`release`."""

    def __init__(self, slot: Slot, handle: IO[str]) -> None:
        self.slot = slot
        self._handle = handle

    def release(self) -> None:
        cleanup(self.slot)
        self._handle.close()


def acquire_slot() -> SlotLease:
    """The first free slot, cleaned of what a killed session may have left in it."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for number in SLOTS:
        handle = (LOCK_DIR / f"node-{number}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        slot = Slot(number)
        cleanup(slot)
        return SlotLease(slot, handle)
    raise RuntimeError(f"every node slot ({SLOTS.start}-{SLOTS.stop - 1}) is in use")


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def add_service_ip(slot: Slot) -> None:
    proc = _ip("addr", "replace", f"{slot.service_ip}/32", "dev", "lo")
    if proc.returncode != 0:
        raise RuntimeError(f"cannot put {slot.service_ip} on lo: {proc.stderr.strip()}")


def cleanup(slot: Slot) -> None:
    """Remove what outlives a node's namespaces: the lo address, bridge, cgroups (idempotent)."""
    _ip("addr", "del", f"{slot.service_ip}/32", "dev", "lo")
    _ip("link", "del", slot.bridge)
    remove_cgroups(slot)


def cgroup_dirs(slot: Slot) -> list[Path]:
    """The slot's cgroup parent in every mounted hierarchy (v1) or the unified one (v2)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT / slot.cgroup_parent]
    return [
        h / slot.cgroup_parent
        for h in sorted(CGROUP_ROOT.iterdir())
        if h.is_dir() and not h.is_symlink()
    ]


def create_cgroups(slot: Slot) -> None:
    """The kubelet wants its cgroup root to exist; cpuset children need cpus and mems."""
    for directory in cgroup_dirs(slot):
        directory.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            mine, parent = directory / name, directory.parent / name
            if mine.exists() and not mine.read_text().strip():
                mine.write_text(parent.read_text())


def remove_cgroups(slot: Slot, timeout: float = 10) -> None:
    """Remove the slot's (empty) cgroups, deepest first; processes may take a moment to go."""
    deadline = time.monotonic() + timeout
    for top in cgroup_dirs(slot):
        while top.exists():
            for directory in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if directory.is_dir():
                    with contextlib.suppress(OSError):
                        directory.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
            if not top.exists() or time.monotonic() > deadline:
                break
            time.sleep(0.2)


def node_ip() -> str:
    """The host's primary IPv4 address (the kubelet refuses a loopback node IP)."""
    proc = _ip("-4", "-o", "route", "get", "1.1.1.1")
    words = proc.stdout.split()
    if proc.returncode != 0 or "src" not in words:
        raise RuntimeError(f"no IPv4 route to tell the node's address: {proc.stderr.strip()}")
    return words[words.index("src") + 1]


def unavailable(tools: Tools) -> str | None:
    """Why this machine cannot run a node (None when it can), naming what to install."""
    if os.geteuid() != 0:
        return "a node needs root (mount and PID namespaces, a bridge, cgroups)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs (containerd's snapshotter needs it)"
    missing = sorted({pkg for prog, pkg in PROGRAMS.items() if not shutil.which(prog)})
    if not all((CNI_DIR / plugin).exists() for plugin in ("bridge", "host-local", "loopback")):
        missing.append("containernetworking-plugins")
    if not any(
        Path(p).exists()
        for p in (
            "/usr/lib/x86_64-linux-gnu/libc.a",
            "/usr/lib/aarch64-linux-gnu/libc.a",
            "/usr/lib/libc.a",
        )
    ):
        missing.append("libc6-dev")
    if missing:
        return f"missing Debian packages: {' '.join(sorted(set(missing)))} (make node-packages installs them)"
    for program in (tools.kubelet, tools.kube_scheduler):
        if not program.exists():
            return f"{program} is not built (make tools)"
    if not CGROUP_ROOT.is_dir():
        return f"no cgroup filesystem at {CGROUP_ROOT}"
    probe = f"ipamprobe{os.getpid() % 10000}"
    proc = _ip("link", "add", probe, "type", "bridge")
    if proc.returncode != 0:
        return f"cannot create a bridge: {proc.stderr.strip()}"
    _ip("link", "del", probe)
    return None


SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
)
"""What the kubelet and the CNI bridge write; the node's launcher gives them private copies."""


def snapshot(slot: Slot) -> dict[str, object]:
    """The host state a node touches: it must be the same before a node and after it.

    Only what is the slot's, where the host holds other slots' too: ``links`` are its
    bridge and the veths on it, ``lo`` its Service IP.
    """
    links = (
        _ip("-o", "link", "show").stdout + _ip("-o", "link", "show", "master", slot.bridge).stdout
    )
    return {
        "sysctls": {key: (Path("/proc/sys") / key).read_text().strip() for key in SYSCTLS},
        "links": sorted(
            {
                name
                for line in links.splitlines()
                if (name := line.split(":")[1].strip().split("@")[0]) == slot.bridge
                or f"master {slot.bridge} " in line
            }
        ),
        "lo": [
            address
            for line in _ip("-o", "-4", "addr", "show", "dev", "lo").stdout.splitlines()
            if (address := line.split()[3]) == f"{slot.service_ip}/32"
        ],
        "netns": sorted(str(p) for p in Path("/run/netns").glob("*")),
        "cni": sorted(str(p) for p in Path("/var/lib/cni").glob("**/*")),
        "cgroups": [str(d) for d in cgroup_dirs(slot) if d.exists()],
        "mounts": sorted(
            line.split()[4]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if "capi-ipam" in line or "/run/netns" in line.split()[4]
        ),
    }
