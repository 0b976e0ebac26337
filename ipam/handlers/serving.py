"""Two small HTTP endpoints: /healthz and /readyz on the health port, /metrics on the metrics port.

/healthz answers while the process runs (a standby waiting for the lease is healthy), except
while the admission webhook, when enabled, does not listen;
/readyz answers 200 only once this instance leads and its watches have started.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ipam.handlers import metrics


@dataclass
class Servers:
    runners: list[web.AppRunner] = field(default_factory=list)

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
        self.runners.clear()


async def _serve(app: web.Application, host: str, port: int, servers: Servers) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    servers.runners.append(runner)


async def start(
    *,
    host: str,
    health_port: int,
    metrics_port: int,
    ready: Callable[[], bool],
    registry: metrics.Metrics,
    healthy: Callable[[], bool] = lambda: True,
) -> Servers:
    """Start the servers whose port is not 0; raises OSError when a port is taken."""
    servers = Servers()

    async def healthz(_: web.Request) -> web.Response:
        if healthy():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="unhealthy (the webhook server does not listen)\n")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="not ready (waiting for the lease or the watches)\n")

    async def metrics_page(_: web.Request) -> web.Response:
        return web.Response(
            body=registry.exposition(), headers={"Content-Type": "text/plain; version=0.0.4"}
        )

    try:
        if health_port:
            app = web.Application()
            app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz)])
            await _serve(app, host, health_port, servers)
        if metrics_port:
            app = web.Application()
            app.add_routes([web.get("/metrics", metrics_page)])
            await _serve(app, host, metrics_port, servers)
    except BaseException:
        await servers.stop()
        raise
    return servers
