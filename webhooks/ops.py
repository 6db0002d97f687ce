"""The private ops listener (OPS_HOST:OPS_PORT, 127.0.0.1:9100 by default): `/livez`, `/readyz` and
`/metrics` for the orchestrator and Prometheus, kept off the public web port. Every long-running
command serves it (`run`, `web`, `bot`, and `worker`, which has no other port); OPS_PORT empty turns
it off, 0 picks a free port (logged)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from config import Settings
from services.infra.health import HealthBoard
from webhooks.health import HEALTH_KEY, add_health_routes
from webhooks.metrics import METRICS_KEY, Metrics, latency_middleware, metrics_handler

log = logging.getLogger(__name__)


def create_ops_app(board: HealthBoard) -> web.Application:
    app = web.Application(middlewares=[latency_middleware])
    app[HEALTH_KEY] = board
    app[METRICS_KEY] = Metrics()
    add_health_routes(app)
    app.router.add_get("/metrics", metrics_handler)
    return app


@asynccontextmanager
async def ops_listener(settings: Settings, board: HealthBoard) -> AsyncIterator[int | None]:
    """Serve the ops app on OPS_HOST:OPS_PORT while inside; yields the bound port, None when OPS_PORT
    is empty (no listener)."""
    if settings.ops_port is None:
        log.info("ops: OPS_PORT is empty: no /livez, /readyz, /metrics listener")
        yield None
        return
    from webhooks.app import start_web_app

    runner, port = await start_web_app(
        create_ops_app(board), settings.ops_host, settings.ops_port, shutdown_timeout=1.0
    )
    log.info("ops: serving /livez /readyz /metrics on http://%s:%s", settings.ops_host, port)
    try:
        yield port
    finally:
        await runner.cleanup()
