"""Child processes of the harness: they die with the harness, even when it is SIGKILLed.

Every program is started in its own process group with ``PR_SET_PDEATHSIG`` set to
SIGKILL, so the kernel kills it when the thread that started it exits. Programs are
therefore always started from the main thread (see :func:`spawn`). A registry of every
live child lets the session's teardown, ``atexit`` and SIGTERM/SIGINT sweep them all.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_children: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Process:
    """One running program with its log file; stop() is safe to call twice."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def start(self) -> Process:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                f"{self.name}: start programs from the main thread, or they die with the thread"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        log.write(f"\n--- {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
        log.flush()
        self._popen = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        with _lock:
            _children[self._popen.pid] = self._popen
        return self

    def signal(self, sig: int) -> None:
        if self._popen is not None and self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; waits until it is gone."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                popen.wait()
        # The group may hold grandchildren even when the leader is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        with _lock:
            _children.pop(popen.pid, None)

    def kill(self) -> None:
        """SIGKILL without grace, as a crash would."""
        popen = self._popen
        if popen is None:
            return
        self.signal(signal.SIGKILL)
        popen.wait()
        with _lock:
            _children.pop(popen.pid, None)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def live_children() -> list[int]:
    """PIDs of every child still running."""
    with _lock:
        return [pid for pid, popen in _children.items() if popen.poll() is None]


def kill_all() -> None:
    """Kill every child process group the harness started."""
    with _lock:
        popens = list(_children.values())
        _children.clear()
    for popen in popens:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            popen.wait(5)


atexit.register(kill_all)


def _on_signal(signum: int, _frame: object) -> None:
    kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def install_signal_handlers() -> None:
    """Sweep children on SIGTERM (SIGINT is left to pytest, whose teardown sweeps too)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
