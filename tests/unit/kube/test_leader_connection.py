"""A renewal the server never answers is abandoned with its connection, and the next one
goes out on another connection and keeps the Lease.

The server here is a few lines of HTTP/1.1 that hold the Lease and, once, read a PUT and
never answer it: what a request stuck behind a saturated API server looks like to the
client. A real API server cannot be told to drop exactly one request; every other
behaviour of the Lease is tested against one (tests/integration/test_controller_leader.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from ipam.kube import client, leader

NS = "ns"
PATH = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/lead"
TIMING = leader.Timing(lease_duration=3.0, renew_deadline=2.0, retry_period=0.2)


class StuckOnce:
    """Serves one Lease; the first PUT of it after ``stick`` is set is never answered."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.stick = False
        self.stuck_port: int | None = None
        self.stuck_closed = asyncio.Event()
        self.puts: list[int] = []
        """The client port of every PUT answered after the stuck one, in order."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = int(writer.get_extra_info("peername")[1])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length)) if length else None
                if method == "PUT" and self.stick:
                    self.stick = False
                    self.stuck_port = port
                    await reader.read()  # until the client gives the connection up
                    self.stuck_closed.set()
                    return
                status, answer = self.answer(method, path.split("?")[0], body, port)
                data = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    def answer(
        self, method: str, path: str, body: dict[str, Any] | None, port: int
    ) -> tuple[str, dict[str, Any]]:
        missing = {"kind": "Status", "reason": "NotFound", "code": 404}
        if method == "GET" and path == PATH:
            return ("200 OK", self.lease) if self.lease else ("404 Not Found", missing)
        if method == "POST" and path == PATH.rsplit("/", 1)[0] and body is not None:
            return "201 Created", self.store(body)
        if method == "PUT" and path == PATH and body is not None and self.lease:
            if self.stuck_port is not None:
                self.puts.append(port)
            if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
                return "409 Conflict", {"kind": "Status", "reason": "Conflict", "code": 409}
            return "200 OK", self.store(body)
        return "404 Not Found", missing

    def store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.lease = {
            **body,
            "metadata": {**body["metadata"], "resourceVersion": str(self.version)},
        }
        return self.lease


def kubeconfig(path: Path, port: int) -> str:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def test_a_renewal_stuck_on_its_connection_is_retried_on_another(tmp_path: Path) -> None:
    async def scenario() -> tuple[StuckOnce, str]:
        server = StuckOnce()
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        port = int(listening.sockets[0].getsockname()[1])
        api = await client.Client.connect(kubeconfig(tmp_path / "kubeconfig", port))
        elector = leader.Elector(api, namespace=NS, name="lead", identity="me", timing=TIMING)
        try:
            await elector.acquire()
            server.stick = True
            keeping = asyncio.ensure_future(elector.keep())
            await asyncio.wait_for(server.stuck_closed.wait(), timeout=3 * TIMING.renew_deadline)
            await asyncio.sleep(TIMING.renew_deadline)
            outcome = f"lost: {keeping.exception()!r}" if keeping.done() else "kept"
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
            return server, outcome
        finally:
            await api.close()
            listening.close()
            await listening.wait_closed()

    server, outcome = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert outcome == "kept"
    assert server.stuck_port is not None
    assert server.puts, "renewals went on after the stuck one"
    assert server.stuck_port not in server.puts, "nothing more was sent on the stuck connection"
