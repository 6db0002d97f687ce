"""The web application's life cycle: ORM opened and closed once (by the composition root), extra
routes, health, `main.py web`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from tortoise.exceptions import ConfigurationError

from cli.root import WEB, open_root
from models import Order, StripeEvent
from services.infra.db import close_db, init_db, migrate
from tests.webhooks.conftest import make_event, paid_session, serve, webhook_settings
from webhooks.app import QUEUE_KEY, create_web_app, start_web_app

ROOT = Path(__file__).resolve().parents[2]


async def _migrated_sqlite(tmp_path: Path) -> tuple[str, str]:
    url, key = f"sqlite://{tmp_path / 'web.sqlite3'}", Fernet.generate_key().decode()
    await migrate(url, key)
    return url, key


async def test_the_root_opens_the_orm_for_the_app_runs_its_hooks_inside_it_and_closes_it_after(tmp_path):
    url, key = await _migrated_sqlite(tmp_path)
    seen: list[str] = []

    async def startup_hook(app: web.Application) -> None:  # runs with the database already open
        seen.append(f"startup jobs={sum((await app[QUEUE_KEY].counts()).values())}")

    async def shutdown_hook(app: web.Application) -> None:  # runs before the database closes
        seen.append(f"shutdown orders={await Order.all().count()}")

    async def hello(request: web.Request) -> web.Response:  # a route added the way the bot adds its own
        return web.json_response({"orders": await Order.all().count()})

    settings = webhook_settings(database_url=url, encryption_key=key)
    async with open_root(settings, WEB) as root:
        app = create_web_app(
            settings, queue=root.queue, on_startup_hooks=[startup_hook], on_shutdown_hooks=[shutdown_hook]
        )
        app.router.add_post("/webhooks/telegram", hello)
        runner, port = await start_web_app(app, "127.0.0.1", 0, shutdown_timeout=1)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200
                async with http.post(f"http://127.0.0.1:{port}/webhooks/telegram") as resp:
                    assert await resp.json() == {"orders": 0}
        finally:
            await runner.cleanup()
        assert seen == ["startup jobs=0", "shutdown orders=0"]
    with pytest.raises(ConfigurationError):  # the root closed the ORM it opened
        await Order.all().count()


async def test_healthz_answers_503_json_when_the_database_is_down():
    await init_db("postgres://postgres@127.0.0.1:1/unreachable", None)  # nothing listens on port 1
    try:
        async for server in serve(webhook_settings()):
            async with server.http.get(f"{server.url}/healthz") as resp:
                assert resp.status == 503
                body = await resp.json()
            assert body["status"] == "unavailable" and body["database"].startswith("error:")
    finally:
        await close_db()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_main_py_web_serves_on_web_port_and_stops_gracefully_on_sigterm(tmp_path):
    url, key = await _migrated_sqlite(tmp_path)
    port = _free_port()
    settings = webhook_settings()
    secret = settings.stripe_webhook_secret.get_secret_value()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ENCRYPTION_KEY": key,
        "STRIPE_WEBHOOK_SECRET": secret,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "web",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            for _ in range(150):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("`main.py web` did not answer /healthz")
            from tests.webhooks.conftest import WebhookServer

            server = WebhookServer(f"http://127.0.0.1:{port}", secret, http, None)
            status, body = await server.post_event(make_event("customer.created", {"id": "cus_1"}))
            assert (status, body["outcome"]) == (200, "ignored")
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = output.decode()
    assert proc.returncode == 0, text
    assert "serving on http://127.0.0.1:" in text and "database closed" in text
    assert secret not in text

    await init_db(url, key)
    try:
        assert await StripeEvent.filter(outcome="ignored").count() == 1
    finally:
        await close_db()


async def test_paid_event_flows_through_a_self_managed_app_on_sqlite(tmp_path):
    url, key = await _migrated_sqlite(tmp_path)
    async for server in serve(webhook_settings(database_url=url, encryption_key=key), open_db=True):
        from models import Customer

        customer = await Customer.create(telegram_id=1)
        order = await Order.create(
            customer=customer, package="starter", bot_name="x", stripe_session_id="cs_test_web_app"
        )
        status, body = await server.post_event(make_event("checkout.session.completed", paid_session(order)))
        assert (status, body["outcome"]) == (200, "paid")


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE customer SET full_name = 'busy'")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def test_on_sqlite_a_writer_in_another_process_delays_the_webhook_but_does_not_fail_it(tmp_path):
    url, key = await _migrated_sqlite(tmp_path)
    async for server in serve(webhook_settings(database_url=url, encryption_key=key), open_db=True):
        from models import Customer

        customer = await Customer.create(telegram_id=1)
        order = await Order.create(
            customer=customer, package="starter", bot_name="x", stripe_session_id="cs_test_web_app"
        )
        # e.g. a worker process in the middle of a write transaction on the same file
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", LOCK_HOLDER, url[len("sqlite://") :], "0.8", stdout=asyncio.subprocess.PIPE
        )
        assert (await holder.stdout.readline()).strip() == b"locked"
        status, body = await server.post_event(make_event("checkout.session.completed", paid_session(order)))
        await holder.wait()
        assert (status, body["outcome"]) == (200, "paid")
        assert (await Order.get(id=order.id)).status.value == "paid"
