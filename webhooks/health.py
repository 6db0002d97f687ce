"""`GET /livez` (the process serves: always 200) and `GET /readyz` (200 when the database answers and
every part this process runs is alive, else 503; JSON naming each part). `/healthz` is `/readyz`
under its older name."""

from __future__ import annotations

import logging

from aiohttp import web

from services.infra.health import HealthBoard

log = logging.getLogger(__name__)

HEALTH_KEY = web.AppKey("health", HealthBoard)


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    ready, report = await request.app[HEALTH_KEY].check()
    if not ready:
        log.warning("readyz: not ready: %s", ", ".join(f"{k}={v}" for k, v in report.items() if v != "ok"))
    return web.json_response(
        {"status": "ok" if ready else "unavailable", **report}, status=200 if ready else 503
    )


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", readyz)
