"""The real web app on a free local port, a real aiohttp client, and events signed as Stripe signs them."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest

from cli.root import WEB, open_root
from config import Settings
from models import Customer, Order
from services.jobs.queue import JobQueue
from tests.standins.stripe_api import stripe_signature as sign
from webhooks.app import create_web_app, start_web_app


def make_event(type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-01-27",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": type_,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }


def paid_session(
    order: Order | None,
    *,
    telegram_id: int = 4242,
    package: str = "starter",
    bot_name: str = "Ann's helper",
    session_id: str | None = None,
    metadata: dict[str, str] | None = None,
    payment_status: str = "paid",
    amount: int = 2900,
) -> dict[str, Any]:
    meta = (
        metadata
        if metadata is not None
        else {
            "order_id": str(order.id) if order else "",
            "userId": str(telegram_id),
            "botName": bot_name,
            "packageType": package,
        }
    )
    return {
        "id": session_id or (order and order.stripe_session_id) or f"cs_test_{secrets.token_hex(12)}",
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": payment_status,
        "amount_total": amount,
        "currency": "usd",
        "metadata": meta,
        "client_reference_id": str(order.id) if order else None,
        "payment_intent": f"pi_{secrets.token_hex(12)}",
    }


@dataclass
class WebhookServer:
    url: str
    secret: str
    http: aiohttp.ClientSession
    app: Any

    async def post_event(
        self,
        event: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        sent = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(body, secret or self.secret, timestamp),
        }
        sent.update(headers or {})
        async with self.http.post(
            f"{self.url}/webhooks/stripe", data=body, headers={k: v for k, v in sent.items() if v is not None}
        ) as resp:
            try:
                payload = await resp.json(content_type=None)
            except ValueError:
                payload = {}
            return resp.status, payload or {}


def webhook_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"stripe_webhook_secret": f"whsec_{secrets.token_hex(16)}"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def serve(
    settings: Settings, queue: JobQueue | None = None, open_db: bool = False
) -> AsyncIterator[WebhookServer]:
    """The app as `python main.py web` builds it (over the composition root; `open_db`: the root opens
    the database, else the caller has it open)."""
    async with open_root(settings, replace(WEB, database=open_db)) as root:
        app = create_web_app(settings, queue=queue or root.queue)
        runner, port = await start_web_app(app, "127.0.0.1", 0, shutdown_timeout=1)
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=100)) as http:
            try:
                secret = settings.stripe_webhook_secret
                yield WebhookServer(
                    f"http://127.0.0.1:{port}", secret.get_secret_value() if secret else "", http, app
                )
            finally:
                await runner.cleanup()


@pytest.fixture
async def server(db: str) -> AsyncIterator[WebhookServer]:
    """The app (ORM opened by the `db` fixture) serving on 127.0.0.1:<free port>."""
    async for running in serve(webhook_settings()):
        yield running


@pytest.fixture
async def order(db: str) -> Order:
    customer = await Customer.create(telegram_id=4242, full_name="Ann")
    return await Order.create(
        customer=customer,
        package="starter",
        bot_name="Ann's helper",
        stripe_session_id=f"cs_test_{secrets.token_hex(12)}",
        checkout_url="https://checkout.stripe.test/x",
    )
