"""The aiohttp application: Stripe webhook and health (and the Telegram webhook, added by the bot).
`/metrics` is served here only with METRICS_ON_WEB_PORT=true; otherwise on the ops port (webhooks/ops.py).

`create_web_app(settings, queue=root.queue)` builds the app from the composition root's clients
(cli/root.py), which has the database open before the app starts and closes it after the app stopped.

Adding routes (before the app is started), e.g. the Telegram webhook with aiogram:

    app = create_web_app(settings, queue=root.queue)
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=...).register(app, path="/webhooks/telegram")
    setup_application(app, dp, bot=bot)
    await run_web_app(app, settings.web_host, settings.web_port, stop_event)

Shared objects are on the app under typed keys: `SETTINGS_KEY`, `QUEUE_KEY`, `METRICS_KEY`, `HEALTH_KEY`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextlib import nullcontext

from aiohttp import web

from config import Settings, secret_value
from services.infra.health import HealthBoard
from services.jobs.queue import JobQueue
from services.payments.stripe_events import StripeEventProcessor
from webhooks.health import HEALTH_KEY, add_health_routes
from webhooks.metrics import METRICS_KEY, Metrics, latency_middleware, metrics_handler
from webhooks.model_gateway import MODEL_GATEWAY_KEY, ModelGateway
from webhooks.stripe import MAX_BODY, StripeWebhook

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("settings", Settings)
QUEUE_KEY = web.AppKey("job_queue", JobQueue)
STRIPE_WEBHOOK_KEY = web.AppKey("stripe_webhook", StripeWebhook)

Hook = Callable[[web.Application], Awaitable[None]]


def create_web_app(
    settings: Settings,
    *,
    queue: JobQueue,
    on_startup_hooks: Iterable[Hook] = (),
    on_shutdown_hooks: Iterable[Hook] = (),
    health: HealthBoard | None = None,
) -> web.Application:
    """The web application with `/webhooks/stripe`, the model gateway (MODEL_GATEWAY_PATH), `/livez`,
    `/readyz` (`/healthz`), and `/metrics` when METRICS_ON_WEB_PORT is set. Add routes before start.

    `queue` is the process's job queue (the root's). `health` is the board `/readyz` reads (the caller
    adds the parts it runs); by default the database only.
    """
    metrics = Metrics()
    app = web.Application(middlewares=[latency_middleware], client_max_size=MAX_BODY)
    app[SETTINGS_KEY] = settings
    app[QUEUE_KEY] = queue
    app[METRICS_KEY] = metrics
    app[HEALTH_KEY] = health or HealthBoard()
    processor = StripeEventProcessor(
        queue, settings.packages, provision_max_attempts=settings.provision_max_attempts
    )
    webhook = StripeWebhook(processor, secret_value(settings.stripe_webhook_secret), metrics)
    app[STRIPE_WEBHOOK_KEY] = webhook
    webhook.register(app)
    gateway = ModelGateway.from_settings(settings, queue)
    app[MODEL_GATEWAY_KEY] = gateway
    gateway.register(app)
    add_health_routes(app)
    if settings.metrics_on_web_port:
        app.router.add_get("/metrics", metrics_handler)
    app.on_startup.extend(on_startup_hooks)
    app.on_shutdown.extend(on_shutdown_hooks)
    return app


async def start_web_app(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0
) -> tuple[web.AppRunner, int]:
    """Start serving `app` on host:port (port 0 picks a free one); returns the runner and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    sockets = site._server.sockets if site._server is not None else ()  # type: ignore[union-attr]
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, bound


async def run_web_app(
    app: web.Application, host: str, port: int, stop: asyncio.Event, *, ops: Settings | None = None
) -> None:
    """Serve until `stop` is set, then finish in-flight requests and run the cleanup hooks once.

    With `ops` (the settings), the private ops listener serves this app's health board and /metrics too.
    """
    from webhooks.ops import ops_listener

    runner, bound = await start_web_app(app, host, port)
    log.info("web: serving on http://%s:%s", host, bound)
    try:
        async with ops_listener(ops, app[HEALTH_KEY]) if ops is not None else nullcontext():
            await stop.wait()
    finally:
        log.info("web: stopping")
        await runner.cleanup()
