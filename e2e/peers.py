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
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e import ports, processes
from e2e.capi import CLUSTERCTL_LABEL, PROVIDER_LABEL
from e2e.cluster import Cluster
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO

BUILD_SCRIPT = REPO / "e2e" / "peers" / "build.sh"
METAL3_IPAM = "metal3-ipam"
CAPM3 = "capm3"
INCLUSTER = "incluster"
CONTRACT_LABELS = {"cluster.x-k8s.io/v1beta1": "v1beta1", "cluster.x-k8s.io/v1beta2": "v1beta2"}
"""The contract labels CAPM3's release adds to its CRDs; without them CAPI core cannot
resolve a Machine's infrastructureRef to a Metal3Machine."""


CRD_TIMEOUT = 300.0
"""Seconds applying a peer's CRDs, then their becoming established, may take."""


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


def install_crds(cluster: Cluster, docs: Sequence[dict[str, Any]]) -> None:
    """Apply CRDs and wait until the API server serves them.

    CAPM3's and baremetal-operator's CRDs are large (hundreds of kilobytes of schema): on
    a loaded machine applying and establishing them takes minutes, hence the bounds, and
    kubectl's client-side validation, which first fetches the server's whole OpenAPI
    document (rebuilt after every CRD change), timed out there; the API server validates
    CRDs itself.
    """
    _apply(cluster, docs)
    names = [f"crd/{doc['metadata']['name']}" for doc in docs]
    cluster.kubectl(
        "wait", "--for=condition=Established", f"--timeout={CRD_TIMEOUT:.0f}s", *names,
        timeout=CRD_TIMEOUT + 30,
    )  # fmt: skip


def _apply(cluster: Cluster, docs: Sequence[dict[str, Any]]) -> None:
    """Server-side apply, without kubectl's client-side validation (see :func:`install_crds`)."""
    cluster.kubectl(
        "apply", "-f", "-", "--server-side", "--force-conflicts",
        "--field-manager=capi-ipam-harness", "--validate=false",
        input=yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(docs)}),
        timeout=CRD_TIMEOUT,
    )  # fmt: skip


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


# --- beside the controller, in a management cluster -----------------------------------------

INVENTORY = {
    CAPM3: ("infrastructure-metal3", "capm3-system", "InfrastructureProvider", "metal3"),
    INCLUSTER: ("ipam-in-cluster", "capi-ipam-in-cluster-system", "IPAMProvider", "in-cluster"),
}
"""The clusterctl inventory entry ``clusterctl init`` would write for each peer: name,
namespace, type, provider name. ``clusterctl move`` refuses a target that lacks a provider
the source has, so a peer is entered in every management cluster at once."""

_installed: set[tuple[str, str]] = set()
_install_lock = threading.Lock()


def built(name: str) -> Peer:
    """The peer ``make peers`` built, or a :class:`PeerError` that says to build it."""
    peer = built_peer(name)
    if peer is None:
        raise PeerError(f"{name} is not built: run `make peers` (tens of minutes the first time)")
    return peer


def management_crds(peer: Peer) -> list[dict[str, Any]]:
    """The peer's CRDs labelled as ``clusterctl init`` labels a provider's, so clusterctl move
    discovers their objects. BareMetalHosts also carry the move label, as in a Metal3
    pivot: nothing owns them, and the Metal3Machines that name them need them on the target."""
    provider = INVENTORY[peer.name][0]
    docs = capm3_crds(peer) if peer.name == CAPM3 else incluster_crds(peer)
    for doc in docs:
        doc["metadata"].setdefault("labels", {}).update(
            {CLUSTERCTL_LABEL: "", PROVIDER_LABEL: provider}
        )
    if peer.name == CAPM3:
        for doc in baremetalhost_crds(peer):
            doc.setdefault("metadata", {}).setdefault("labels", {}).update(
                {CLUSTERCTL_LABEL: "", f"{CLUSTERCTL_LABEL}/move": "", PROVIDER_LABEL: provider}
            )
            docs.append(doc)
    return docs


def inventory_entry(peer: Peer) -> list[dict[str, Any]]:
    """The namespace and clusterctl Provider entry of the peer."""
    name, namespace, kind, provider_name = INVENTORY[peer.name]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "clusterctl.cluster.x-k8s.io/v1alpha3",
            "kind": "Provider",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {CLUSTERCTL_LABEL: "", PROVIDER_LABEL: name},
            },
            "type": kind,
            "providerName": provider_name,
            "version": peer.version,
        },
    ]


def install_in(clusters: Sequence[Cluster], peer: Peer) -> None:
    """The peer's CRDs and inventory entry in every cluster, once per process and cluster."""
    with _install_lock:
        for cluster in clusters:
            key = (str(cluster.kubeconfig_path), peer.name)
            if key in _installed:
                continue
            install_crds(cluster, management_crds(peer))
            _apply(cluster, inventory_entry(peer))
            warm_openapi(cluster)
            _installed.add(key)


def warm_openapi(cluster: Cluster) -> None:
    """Have the API server build its OpenAPI document now, with time to spare.

    kubectl fetches the whole document before every apply it validates, within 32 s, and
    the server rebuilds it after CRDs change; with CAPM3's and baremetal-operator's large
    schemas that rebuild took longer on a loaded machine, so the next apply of a scenario
    failed. Built here, it is served from the server's cache afterwards.
    """
    cluster.kubectl(
        "get", "--raw", "/openapi/v2", f"--request-timeout={CRD_TIMEOUT:.0f}s",
        timeout=CRD_TIMEOUT + 30,
    )  # fmt: skip


def beside(
    name: str, cluster: ControlPlane, workdir: Path, *, namespace: str, extra: Sequence[str] = ()
) -> PeerProcess:
    """The peer ``name`` for a scenario's namespace on ``cluster`` (not started).

    CAPM3 serves the namespace without a watch filter; the in-cluster provider serves it
    with its webhooks off. Install them with :func:`install_in` first.
    """
    peer = built(name)
    if name == CAPM3:
        return capm3(cluster, workdir, extra=[f"--namespace={namespace}", *extra], peer=peer)
    return incluster(cluster, workdir, namespace=namespace, extra=extra, peer=peer)
