"""``make run``: the controller against $KUBECONFIG, or on an embedded local control plane.

Without KUBECONFIG, a control plane is started in a state directory that survives
restarts (``$XDG_STATE_HOME/capi-ipam/local``), with Cluster API's manager beside it as
in any management cluster (its webhooks check what examples/ and the user apply), the
CRDs and examples/ are installed, and the controller runs in the foreground under the
ServiceAccount and RBAC that config/ ships. Ctrl-C stops the controller and the control
plane; nothing is left running.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e import processes
from e2e.controller import ControllerRunner
from e2e.controlplane import ControlPlane
from e2e.toolchain import REPO


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "capi-ipam" / "local"


def apply_examples(cp: ControlPlane) -> None:
    for folder in sorted(p for p in (REPO / "examples").iterdir() if p.is_dir()):
        for manifest in sorted(folder.glob("*.yaml")):
            proc = cp.kubectl("apply", "--server-side", "-f", str(manifest), check=False)
            status = "applied" if proc.returncode == 0 else f"not applied: {proc.stderr.strip()}"
            print(f"  {manifest.relative_to(REPO)}: {status}", flush=True)


def run_against_kubeconfig(extra: list[str]) -> int:
    return subprocess.call(
        [sys.executable, "-m", "ipam", "run", "--all-namespaces", *extra], cwd=REPO
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reset", action="store_true", help="start from an empty control plane")
    parser.add_argument("extra", nargs="*", help="extra arguments for `python -m ipam run`")
    args = parser.parse_args(argv)
    if os.environ.get("KUBECONFIG"):
        print(f"KUBECONFIG is set: running the controller against {os.environ['KUBECONFIG']}")
        return run_against_kubeconfig(args.extra)

    directory = state_dir()
    if args.reset and directory.exists():
        import shutil

        shutil.rmtree(directory)
    processes.install_signal_handlers()
    # Ctrl-C stops everything, even when started from a shell that ignores SIGINT in the
    # background (the handler is inherited as "ignore" then).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cp = ControlPlane("local", directory, keep_data=True)
    print(f"Starting the embedded control plane in {directory} ...", flush=True)
    started = time.monotonic()
    cp.start()
    print(
        f"Control plane ready in {time.monotonic() - started:.1f}s (etcd, kube-apiserver, "
        f"kube-controller-manager, Cluster API {cp.tools.cluster_api_version}). "
        "Applying examples/:",
        flush=True,
    )
    apply_examples(cp)
    print(
        "\nTry it in another terminal:\n"
        f"  export KUBECONFIG={cp.kubeconfig_path}\n"
        "  kubectl get ippools.ipam.metal3.io,ipclaims.ipam.metal3.io,ipaddresses.ipam.metal3.io -A\n",
        flush=True,
    )
    runner = ControllerRunner(cp, directory / "controller", name="local")
    try:
        runner.start()
        print(
            f"Controller running (log: {runner.log_path}); Ctrl-C stops everything.\n", flush=True
        )
        with runner.log_path.open() as log:
            while runner.running:
                line = log.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
        print(
            f"The controller exited with {runner.returncode}; the control plane keeps running until Ctrl-C."
        )
        signal.pause()
    except KeyboardInterrupt:
        print("\nStopping the controller and the control plane ...", flush=True)
    finally:
        runner.stop()
        cp.stop()
    print("Stopped. The data stays in", directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
