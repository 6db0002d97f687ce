"""`/livez`, `/readyz` and `/metrics` (prometheus_client): process metrics, business series read from
the database, and /metrics kept off the public port unless asked."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from models import (
    AccountStatus,
    Alert,
    AlertSeverity,
    Customer,
    Instance,
    InstanceStatus,
    Job,
    JobStatus,
    Order,
    OrderStatus,
    TelegramAccount,
)
from services.infra.db import close_db, init_db
from services.infra.health import HealthBoard
from services.jobs.queue import utcnow
from tests.webhooks.conftest import make_event, paid_session, serve, webhook_settings
from webhooks.app import start_web_app
from webhooks.ops import create_ops_app


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in a Prometheus text page (None when absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def scrape(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/metrics") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        return await resp.text()


class OpsServer:
    def __init__(self, board: HealthBoard) -> None:
        self.board = board

    async def __aenter__(self) -> str:
        self.runner, port = await start_web_app(
            create_ops_app(self.board), "127.0.0.1", 0, shutdown_timeout=1
        )
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def test_metrics_carry_process_metrics_and_the_business_series_from_the_database(db: str) -> None:
    customer = await Customer.create(telegram_id=5151)
    for status in (OrderStatus.PAID, OrderStatus.PAID, OrderStatus.ACTIVE):
        await Order.create(customer=customer, package="starter", bot_name="x", status=status)
    order = await Order.first()
    await Instance.create(order=order, customer=customer, status=InstanceStatus.ACTIVE)
    await TelegramAccount.create(
        phone="+15550001111", api_id=1, api_hash="0" * 32, status=AccountStatus.BANNED
    )
    await Job.create(kind="provision", payload={}, status=JobStatus.DEAD, run_after=utcnow())
    await Job.create(kind="notify_customer", payload={}, status=JobStatus.PENDING, run_after=utcnow())
    await Alert.create(
        kind="pool_exhausted", severity=AlertSeverity.CRITICAL, text="t", dedup_key="k", count=3
    )

    async with OpsServer(HealthBoard()) as base, aiohttp.ClientSession() as http:
        text = await scrape(http, base)

    assert sample(text, "process_cpu_seconds_total") is not None
    assert sample(text, "meetmatt_orders", status="paid") == 2
    assert sample(text, "meetmatt_orders", status="active") == 1
    assert sample(text, "meetmatt_instances", status="active") == 1
    assert sample(text, "meetmatt_creator_accounts", status="banned") == 1
    assert sample(text, "meetmatt_jobs", kind="provision", status="dead") == 1
    assert sample(text, "meetmatt_jobs", kind="notify_customer", status="pending") == 1
    assert sample(text, "meetmatt_alerts_raised_total", kind="pool_exhausted", severity="critical") == 3
    assert sample(text, "meetmatt_payment_to_live_seconds_count") is not None  # the histogram exists


async def test_stripe_events_and_request_latency_are_counted(db: str) -> None:
    customer = await Customer.create(telegram_id=4242, full_name="Ann")
    order = await Order.create(
        customer=customer,
        package="starter",
        bot_name="Ann's bot",
        amount=2900,
        currency="usd",
        stripe_session_id="cs_test_metrics_1",
    )
    async for server in serve(webhook_settings(metrics_on_web_port=True)):
        before = await scrape(server.http, server.url)
        await server.post_event(make_event("checkout.session.completed", paid_session(order)))
        await server.post_event(b"not json")
        after = await scrape(server.http, server.url)

    def delta(name: str, **labels: str) -> float:
        return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert delta("meetmatt_webhook_events_total", type="checkout.session.completed", outcome="paid") == 1
    assert delta("meetmatt_webhook_events_total", type="unverified", outcome="rejected_malformed") == 1
    assert (
        delta(
            "meetmatt_http_request_duration_seconds_count",
            route="/webhooks/stripe",
            method="POST",
            status="200",
        )
        == 1
    )
    assert (
        delta(
            "meetmatt_http_request_duration_seconds_bucket",
            route="/webhooks/stripe",
            method="POST",
            status="400",
            le="+Inf",
        )
        == 1
    )
    assert sample(after, "meetmatt_jobs", kind="provision", status="pending") == 1


async def test_metrics_stay_off_the_public_port_unless_asked(db: str) -> None:
    async for server in serve(webhook_settings()):
        async with server.http.get(f"{server.url}/metrics") as resp:
            assert resp.status == 404
        async with server.http.get(f"{server.url}/readyz") as resp:
            assert resp.status == 200 and (await resp.json())["database"] == "ok"
    async for server in serve(webhook_settings(metrics_on_web_port=True)):
        assert sample(await scrape(server.http, server.url), "process_cpu_seconds_total") is not None


async def test_livez_answers_while_the_database_is_down_and_readyz_names_it() -> None:
    await init_db("postgres://postgres@127.0.0.1:1/unreachable", None)  # nothing listens on port 1
    try:
        async with OpsServer(HealthBoard()) as base, aiohttp.ClientSession() as http:
            async with http.get(f"{base}/livez") as resp:
                assert resp.status == 200 and await resp.json() == {"status": "alive"}
            async with http.get(f"{base}/readyz") as resp:
                body = await resp.json()
                assert resp.status == 503
            assert body["status"] == "unavailable" and body["database"].startswith("error:")
            text = await scrape(http, base)  # still served, without the database series
            assert sample(text, "process_cpu_seconds_total") is not None
            assert "meetmatt_orders{" not in text and "meetmatt_jobs{" not in text
    finally:
        await close_db()


class FakeWorker:
    running = True
    last_tick = 0.0


async def test_readyz_turns_503_when_the_worker_heartbeat_is_older_than_the_limit(db: str) -> None:
    import time

    worker = FakeWorker()
    worker.last_tick = time.monotonic()
    board = HealthBoard()
    board.watch_worker(worker, stale_after_s=5)
    assert (await board.check())[0] is True
    worker.last_tick = time.monotonic() - timedelta(seconds=6).total_seconds()
    ready, report = await board.check()
    assert not ready and report["worker"].startswith("stalled: last heartbeat 6s ago")
    worker.running = False
    assert (await board.check())[1]["worker"] == "stopped"
