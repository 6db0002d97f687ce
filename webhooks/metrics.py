"""`GET /metrics` and the request-latency middleware, over `prometheus_client` (`services/infra/metrics.py`
defines the series). `/metrics` is served on the private ops port (OPS_HOST:OPS_PORT); on the public
web port only with METRICS_ON_WEB_PORT=true.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from services.infra import metrics as series


class Metrics:
    """What the web handlers record (the Stripe webhook counts its events here)."""

    def count_event(self, type_: str, outcome: str) -> None:
        series.WEBHOOK_EVENTS.labels(type=type_, outcome=outcome).inc()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        series.HTTP_LATENCY.labels(route=route, method=method, status=str(status)).observe(seconds)


METRICS_KEY = web.AppKey("metrics", Metrics)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def latency_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS_KEY].observe(
            _route_name(request), request.method, status, time.perf_counter() - started
        )


async def metrics_handler(request: web.Request) -> web.Response:
    await series.refresh_from_database()
    return web.Response(body=series.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
