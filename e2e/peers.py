"""The upstream controllers beside ours: locate or build them, their CRDs, and run them on loopback.

Three programs are built from the Go module proxy by ``e2e/peers/build.sh`` (``make
peers``), each from its own wrapper module so each links exactly the dependency versions
its release pins: upstream Metal3 IPAM (what the project replaces), CAPM3 (the main
client of Metal3 IPClaims) and the Cluster API in-cluster IPAM provider (another provider
that may share a management cluster). Their CRDs are read from the same module sources in
the Go module cache. A peer runs as an :class:`e2e.processes.Process` against a harness
:class:`~e2e.controlplane.ControlPlane` with the admin kubeconfig; every listener it lets
us place is on 127.0.0.1 on a free port, and the webhook servers that cannot be switched
off serve the control plane's own certificate (its SAN holds 127.0.0.1).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e import ports, processes
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO

BUILD_SCRIPT = REPO / "e2e" / "peers" / "build.sh"
METAL3_IPAM = "metal3-ipam"
CAPM3 = "capm3"
INCLUSTER = "incluster"
CONTRACT_LABELS = {"cluster.x-k8s.io/v1beta1": "v1beta1", "cluster.x-k8s.io/v1beta2": "v1beta2"}
"""The contract labels CAPM3's release adds to its CRDs; without them CAPI core cannot
resolve a Machine's infrastructureRef to a Metal3Machine."""


class PeerError(RuntimeError):
    """A peer could not be built or did not start; the message says what is missing."""


@dataclass(frozen=True)
class Peer:
    """One built upstream program, its version and the module source it was built from."""

    name: str
    version: str
    directory: Path
    source: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def binary(self) -> Path:
        return self.directory / "bin" / self.name


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line.strip())


def _peer_from(directory: Path) -> Peer:
    values = _read_env(directory / "peer.env")
    extra = {k: v for k, v in values.items() if k not in ("NAME", "VERSION", "SOURCE", "MODULE")}
    return Peer(
        name=values["NAME"],
        version=values["VERSION"],
        directory=directory,
        source=Path(values["SOURCE"]),
        extra=extra,
    )


def built_peer(name: str) -> Peer | None:
    """The peer if ``make peers`` already built it, without building anything."""
    cache = Path(
        os.environ.get("IPAM_PEERS_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "capi-ipam" / "peers"
    )
    for directory in sorted(cache.glob(f"{name}-v*")):
        if (directory / "peer.env").exists() and (directory / "bin" / name).exists():
            return _peer_from(directory)
    return None


@functools.cache
def ensure_peer(name: str) -> Peer:
    """Build the peer when it is missing (cached per version outside the repo) and describe it."""
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT), name],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise PeerError(f"{BUILD_SCRIPT} {name} failed (exit {proc.returncode}); see above")
    line = proc.stdout.strip().splitlines()[-1]
    built, directory = line.split(" ", 1)
    if built != name:
        raise PeerError(f"{BUILD_SCRIPT} answered {line!r} for {name}")
    return _peer_from(Path(directory))


# --- CRDs ----------------------------------------------------------------------------------


def _load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise PeerError(f"CRD file missing from the module source: {path}")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def incluster_crds(peer: Peer) -> list[dict[str, Any]]:
    """InClusterIPPool and GlobalInClusterIPPool, as the in-cluster release defines them."""
    bases = peer.source / "config" / "crd" / "bases"
    return [
        doc
        for plural in ("inclusterippools", "globalinclusterippools")
        for doc in _load(bases / f"ipam.cluster.x-k8s.io_{plural}.yaml")
    ]


def capm3_crds(peer: Peer) -> list[dict[str, Any]]:
    """CAPM3's CRDs with the contract labels its release adds."""
    bases = peer.source / "config" / "crd" / "bases"
    docs = [
        d
        for path in sorted(bases.glob("infrastructure.cluster.x-k8s.io_*.yaml"))
        for d in _load(path)
    ]
    if not docs:
        raise PeerError(f"no CAPM3 CRDs under {bases}")
    for doc in docs:
        doc.setdefault("metadata", {}).setdefault("labels", {}).update(CONTRACT_LABELS)
    return docs


def baremetalhost_crds(peer: Peer) -> list[dict[str, Any]]:
    """BareMetalHost and HardwareData from baremetal-operator's root module (CAPM3 reads them)."""
    if "BMO_SOURCE" not in peer.extra:
        raise PeerError(f"{peer.name} was not built with the baremetal-operator source")
    bases = Path(peer.extra["BMO_SOURCE"]) / "config" / "base" / "crds" / "bases"
    return [
        doc
        for plural in ("baremetalhosts", "hardwaredata")
        for doc in _load(bases / f"metal3.io_{plural}.yaml")
    ]


def metal3_ipam_crds(peer: Peer) -> list[dict[str, Any]]:
    """Upstream's own ipam.metal3.io CRDs (the harness installs the project's; these are for
    reading, since installing them would prune fields upstream's release lacks)."""
    bases = peer.source / "config" / "crd" / "bases"
    return [d for path in sorted(bases.glob("ipam.metal3.io_*.yaml")) for d in _load(path)]


def install_crds(cluster: ControlPlane, docs: Sequence[dict[str, Any]]) -> None:
    """Apply CRDs and wait until the API server serves them."""
    cluster.apply(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(docs)}))
    names = [f"crd/{doc['metadata']['name']}" for doc in docs]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, timeout=90)


# --- running -------------------------------------------------------------------------------


def serving_cert_dir(cluster: ControlPlane, directory: Path) -> Path:
    """The control plane's serving pair as ``tls.crt``/``tls.key``, for webhook servers."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cluster.pki.serving_cert, directory / "tls.crt")
    shutil.copyfile(cluster.pki.serving_key, directory / "tls.key")
    (directory / "tls.key").chmod(0o600)
    return directory


class PeerProcess:
    """One running peer: its process, its log, its readiness endpoint."""

    def __init__(self, peer: Peer, argv: Sequence[str], log_path: Path, ready_url: str) -> None:
        self.peer = peer
        self.ready_url = ready_url
        self.process = processes.Process(peer.name, argv, log_path)

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self, timeout: float = 120) -> PeerProcess:
        """Start it and wait until its readiness endpoint answers 200."""
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running:
                raise PeerError(
                    f"{self.peer.name} exited with {self.process.returncode}:\n"
                    f"{self.process.log_tail()}"
                )
            if _status(self.ready_url) == 200:
                return self
            time.sleep(0.2)
        self.process.stop()
        raise PeerError(
            f"{self.peer.name} not ready at {self.ready_url} after {timeout:.0f}s:\n"
            f"{self.process.log_tail()}"
        )

    def stop(self, timeout: float = 10) -> None:
        self.process.stop(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def _metal3_style_argv(
    peer: Peer, cluster: ControlPlane, workdir: Path, extra: Sequence[str]
) -> tuple[list[str], str]:
    """Flags shared by upstream Metal3 IPAM and CAPM3 (both Cluster API style managers).

    Their webhook server cannot be switched off and takes no host flag: it listens on
    a free port on every interface, with the control plane's certificate. Nothing
    registers it with the API server, so it is never called.
    """
    health = ports.free_port()
    argv = [
        str(peer.binary),
        f"--kubeconfig={cluster.kubeconfig_path}",
        f"--webhook-port={ports.free_port()}",
        f"--webhook-cert-dir={serving_cert_dir(cluster, workdir / 'serving-certs')}",
        f"--health-addr=127.0.0.1:{health}",
        f"--diagnostics-address=127.0.0.1:{ports.free_port()}",
        "--insecure-diagnostics",
        "--leader-elect=false",
        *extra,
    ]
    return argv, f"http://127.0.0.1:{health}/readyz"


def metal3_ipam(
    cluster: ControlPlane,
    workdir: Path,
    *,
    namespace: str | None = None,
    extra: Sequence[str] = (),
    peer: Peer | None = None,
) -> PeerProcess:
    """Upstream Metal3 IPAM against ``cluster`` (not started), scoped to ``namespace`` if given.

    It runs on the project's ipam.metal3.io CRDs, which the harness installs.
    """
    peer = peer or ensure_peer(METAL3_IPAM)
    scope = [f"--namespace={namespace}"] if namespace else []
    argv, ready = _metal3_style_argv(peer, cluster, workdir, [*scope, *extra])
    suffix = f"-{namespace}" if namespace else ""
    return PeerProcess(peer, argv, workdir / f"{peer.name}{suffix}.log", ready)


def capm3(
    cluster: ControlPlane,
    workdir: Path,
    *,
    watch_filter: str | None = None,
    extra: Sequence[str] = (),
    peer: Peer | None = None,
) -> PeerProcess:
    """CAPM3 against ``cluster`` (not started). Install :func:`capm3_crds` and
    :func:`baremetalhost_crds` first."""
    peer = peer or ensure_peer(CAPM3)
    scope = [f"--watch-filter={watch_filter}"] if watch_filter else []
    argv, ready = _metal3_style_argv(peer, cluster, workdir, [*scope, "--v=4", *extra])
    return PeerProcess(peer, argv, workdir / f"{peer.name}.log", ready)


def incluster(
    cluster: ControlPlane,
    workdir: Path,
    *,
    namespace: str | None = None,
    extra: Sequence[str] = (),
    peer: Peer | None = None,
) -> PeerProcess:
    """The in-cluster IPAM provider against ``cluster`` (not started), webhooks off.
    Install :func:`incluster_crds` first."""
    peer = peer or ensure_peer(INCLUSTER)
    health = ports.free_port()
    scope = [f"--namespace={namespace}"] if namespace else []
    argv = [
        str(peer.binary),
        f"--kubeconfig={cluster.kubeconfig_path}",
        "--webhook-port=0",
        f"--health-probe-bind-address=127.0.0.1:{health}",
        f"--metrics-bind-address=127.0.0.1:{ports.free_port()}",
        "--leader-elect=false",
        *scope,
        *extra,
    ]
    return PeerProcess(
        peer, argv, workdir / f"{peer.name}.log", f"http://127.0.0.1:{health}/readyz"
    )
