"""``make run`` without KUBECONFIG: an embedded control plane, the examples, the controller.

The README promises a newcomer this command; this test runs exactly what ``make run``
runs (``python -m e2e.local``) in a fresh state directory, checks that the examples get
their addresses and that the README's ``ipam`` session gives what it shows, then presses
Ctrl-C and checks that nothing it started is left running.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from e2e.cluster import run_kubectl

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line or environment contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:  # the controller names the state dir only in its environment (KUBECONFIG)
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            found.append(int(entry.name))
    return found


def _ipam(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "ipam", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _the_readmes_command_line_session(kubeconfig: Path, deadline: float) -> None:
    """The README's ``ipam`` session on the examples gives what the README shows."""
    unowned = ("host-1-fixed", "machine-1", "shared-md-b-0")
    while True:
        report = _ipam(kubeconfig, "check-move", "-o", "json")
        held = [f for f in json.loads(report.stdout)["findings"] if f["kind"] == "IPAddress"]
        if len(held) == len(unowned):
            break
        assert time.monotonic() < deadline, report.stdout
        time.sleep(0.5)
    human = _ipam(kubeconfig, "check-move")
    assert human.returncode == 1
    assert "6 problems: clusterctl move would lose what is listed above." in human.stdout
    for name in unowned:
        assert f"  ipaddressclaim.ipam.cluster.x-k8s.io/{name}\n" in human.stdout
    pools = _ipam(kubeconfig, "pools", "--warn-at", "20")
    assert "! shared-nodes: 20% used, 16 of 20 addresses free (warning at 20%)" in pools.stdout
    assert "2^64 - 1" in pools.stdout
    run_kubectl(
        kubeconfig, "label", "ipaddressclaims.ipam.cluster.x-k8s.io", *unowned,
        "clusterctl.cluster.x-k8s.io/move=",
    )  # fmt: skip
    fixed = _ipam(kubeconfig, "check-move")
    assert fixed.returncode == 0, fixed.stdout
    assert fixed.stdout.endswith(
        "No problem: clusterctl move takes every pool, claim and address.\n"
    )


def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return b""


def test_make_run_serves_the_examples_and_ctrl_c_leaves_nothing_running(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["XDG_STATE_HOME"] = str(tmp_path)
    output: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "e2e.local"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C must reach it even when this test runs where SIGINT is ignored (a
        # background job of a shell), which a child would otherwise inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as local:
        assert local.stdout is not None
        reader = threading.Thread(target=lambda: output.extend(local.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 600  # a loaded machine starts the control plane slowly
            while not any("Controller running" in line for line in output):
                assert local.poll() is None, "".join(output)
                assert time.monotonic() < deadline, "".join(output)
                time.sleep(0.2)
            exported = next(m for line in output if (m := re.search(r"KUBECONFIG=(\S+)", line)))
            kubeconfig = Path(exported.group(1))
            assert kubeconfig.is_relative_to(tmp_path)

            def bound() -> str:
                proc = run_kubectl(
                    kubeconfig,
                    "get",
                    "ipclaims.ipam.metal3.io",
                    "machine-0",
                    "-n",
                    "default",
                    "-o",
                    "jsonpath={.status.address.name}",
                    check=False,
                )
                return proc.stdout.strip()

            while bound() not in ("provisioning-192-168-0-10", "provisioning-192-168-0-11"):
                assert time.monotonic() < deadline, "".join(output)
                time.sleep(0.5)
            running = _processes_mentioning(str(tmp_path))
            assert running, "no etcd/apiserver under the state dir"
            commands = [_command(pid) for pid in running]
            assert any(b"capi-manager" in c for c in commands), "Cluster API's manager is missing"
            assert not any("not applied" in line for line in output), "".join(output)
            _the_readmes_command_line_session(kubeconfig, deadline)
        finally:
            local.send_signal(signal.SIGINT)
            try:
                code = local.wait(60)
            except subprocess.TimeoutExpired:
                local.kill()  # its programs die with it (PR_SET_PDEATHSIG)
                raise
        reader.join(10)
    assert code == 0, "".join(output)
    assert any("Stopped" in line for line in output), "".join(output)
    deadline = time.monotonic() + 30
    while left := _processes_mentioning(str(tmp_path)):
        assert time.monotonic() < deadline, f"still running after Ctrl-C: {left}"
        time.sleep(0.2)
