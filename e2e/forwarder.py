"""A TCP forwarder: the Service IP of the API server (``10.0.N.1:443``) to its loopback port.

Pods reach the API server at ``$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``; without
kube-proxy nothing answers there, so the node runs this in the host's network namespace,
bound to the Service IP that :mod:`e2e.host` puts on ``lo``. TLS passes through untouched.

    python -m e2e.forwarder 10.0.1.1 443 127.0.0.1 6443
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen: str, port: int, target: str, target_port: int) -> None:
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    server = await asyncio.start_server(connection, listen, port, reuse_address=True)
    print(f"forwarding {listen}:{port} to {target}:{target_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    listen, port, target, target_port = argv
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(listen, int(port), target, int(target_port)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
