"""Load on the bot's webhook path: simulated customers walking the order dialogue.

    .venv/bin/python bench/bot_load.py [--customers 1000] [--concurrency 20] [--postgres]

What runs: the real Dispatcher (middlewares, routers, FSM) behind aiogram's `SimpleRequestHandler`
on a local aiohttp server, exactly as `TELEGRAM_MODE=webhook` serves it, on a real database (a fresh
SQLite file by default, migrated with the project's migrations). Every Bot API call the handlers make
goes over HTTP to a local stand-in that answers like Telegram. Each simulated customer sends, one
after the other as a person would: /start, /new, a package button, a name, a username (which shows
the order summary), Edit, and back to the summary (7 updates, ending at the order summary).

The Bot API stand-in and the simulated customers run in processes of their own (in real life they
are other machines), so the figures are the bot's. The machine is shared: the load average is printed.

Latency is measured per update from the client's POST to the webhook answer, with the handler run
inside the request (`handle_in_background=False`), so it includes the handler's own Bot API calls.
Prints updates/s and p50/p95/p99/max. Targets: >= 500 updates/s, p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # the repo, not bench/ (its modules would shadow the stdlib)

from aiogram.webhook.aiohttp_server import SimpleRequestHandler  # noqa: E402

from bot.callbacks import OrderCb, PackageCb  # noqa: E402
from bot.factory import create_bot, create_dispatcher  # noqa: E402
from config import Settings  # noqa: E402
from handlers import get_routers  # noqa: E402
from services.infra.db import migrate, open_database  # noqa: E402
from services.jobs.queue import JobQueue  # noqa: E402

SECRET = "bench-" + secrets.token_hex(8)


class BotApiStandIn:
    """Answers every Bot API method like Telegram would, as fast as it can."""

    def __init__(self) -> None:
        self.calls = 0
        self._ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        method = request.match_info["method"]
        if method == "getMe":
            return web.json_response(
                {
                    "ok": True,
                    "result": {"id": 1, "is_bot": True, "first_name": "Matt", "username": "MeetMattBenchBot"},
                }
            )
        if method.startswith("send"):
            form = await request.post()
            chat_id = int(str(form.get("chat_id", "0")))
            return web.json_response(
                {
                    "ok": True,
                    "result": {
                        "message_id": next(self._ids),
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private", "first_name": "C"},
                        "text": str(form.get("text", "")),
                    },
                }
            )
        return web.json_response({"ok": True, "result": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


def updates_for(user_id: int, counter: itertools.count) -> list[dict]:
    language = "ru" if user_id % 2 else "en"  # half the customers are served the Russian catalogue
    user = {"id": user_id, "is_bot": False, "first_name": f"Customer {user_id}", "language_code": language}
    chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}

    def message(text: str) -> dict:
        body: dict = {
            "message_id": next(counter),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        return {"update_id": next(counter), "message": body}

    def press(data: str) -> dict:
        return {
            "update_id": next(counter),
            "callback_query": {
                "id": str(next(counter)),
                "from": user,
                "chat_instance": str(user_id),
                "data": data,
                "message": {"message_id": 1, "date": int(time.time()), "chat": chat, "text": "…"},
            },
        }

    return [
        message("/start"),
        message("/new"),
        press(PackageCb(code="starter").pack()),
        message(f"Agent {user_id}"),
        message(f"agent_{user_id}_bot"),
        press(OrderCb(action="edit").pack()),
        press(OrderCb(action="back").pack()),
    ]


def _serve_stand_in(conn) -> None:
    """Process: the Bot API stand-in, until the parent says stop."""

    async def body() -> None:
        api = BotApiStandIn()
        await api.start()
        conn.send(api.base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send(api.calls)
        await api.runner.cleanup()  # type: ignore[union-attr]

    asyncio.run(body())


def _drive_customers(conn, url: str, secret: str, customers: int, concurrency: int) -> None:
    """Process: the simulated customers; sends back (wall seconds, latencies, errors)."""

    async def body() -> tuple[float, list[float], list[str]]:
        latencies: list[float] = []
        errors: list[str] = []
        gate = asyncio.Semaphore(concurrency)
        counter = itertools.count(1)
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def customer(user_id: int) -> None:
                for update in updates_for(user_id, counter):
                    async with gate:
                        started = time.perf_counter()
                        async with session.post(url, json=update, headers=headers) as response:
                            await response.read()
                            if response.status != 200:
                                errors.append(f"HTTP {response.status}")
                        latencies.append(time.perf_counter() - started)

            await customer(10_000_000)  # warm-up (imports, first queries) outside the measurement
            latencies.clear()
            wall = time.perf_counter()
            await asyncio.gather(*(customer(1_000_000 + n) for n in range(customers)))
            return time.perf_counter() - wall, latencies, errors

    conn.send(asyncio.run(body()))


PG_ADMIN_URL = os.environ.get("MEETMATT_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def run_on_fresh_postgres(customers: int, concurrency: int, cooldown: float) -> int:
    """The same load on a temporary database of the local PostgreSQL server, dropped afterwards."""
    import asyncpg

    name = f"meetmatt_bot_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return await run(customers, concurrency, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", cooldown)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run(customers: int, concurrency: int, database_url: str | None, cooldown: float) -> int:
    import multiprocessing

    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="meetmatt-bench-"))
    database_url = database_url or f"sqlite://{workdir / 'bench.sqlite3'}"
    key = Fernet.generate_key().decode()
    await migrate(database_url, key)
    database = contextlib.AsyncExitStack()
    await database.enter_async_context(open_database(database_url, key))
    # Telegram and the customers are other machines in real life: give them their own processes, so
    # the figures are the bot's, not the load generator's
    ctx = multiprocessing.get_context("spawn")
    api_conn, api_child = ctx.Pipe()
    api_process = ctx.Process(target=_serve_stand_in, args=(api_child,), daemon=True)
    api_process.start()
    loop = asyncio.get_running_loop()
    api_url = await loop.run_in_executor(None, api_conn.recv)
    token = f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(27)}"
    settings = Settings(
        _env_file=None,
        bot_token=token,
        telegram_api_server=api_url,
        bot_cooldown_seconds=cooldown,
        database_url=database_url,
    )
    bot = create_bot(settings)
    dp = create_dispatcher(settings, get_routers(settings), payments=None, queue=JobQueue())
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=SECRET, handle_in_background=False).register(
        app, path="/webhooks/telegram"
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhooks/telegram"  # type: ignore

    gc.freeze()  # as start_bot does: start-up objects leave the collector's scans
    load_conn, load_child = ctx.Pipe()
    load_process = ctx.Process(
        target=_drive_customers, daemon=True, args=(load_child, url, SECRET, customers, concurrency)
    )
    cpu = time.process_time()
    load_process.start()
    wall, latencies, errors = await loop.run_in_executor(None, load_conn.recv)
    cpu = time.process_time() - cpu
    load_process.join(timeout=10)
    api_conn.send("stop")
    api_calls = await loop.run_in_executor(None, api_conn.recv)
    api_process.join(timeout=10)

    await runner.cleanup()
    await bot.session.close()
    await database.aclose()

    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    rate = len(latencies) / wall
    load1, _, _ = os.getloadavg()
    print(
        f"bot webhook load: {customers} customers x 7 updates, concurrency {concurrency}, "
        f"database {database_url.split('://', 1)[0]}, cooldown {cooldown:g}s, "
        f"machine load average at the end {load1:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"  updates handled : {len(latencies)} in {wall:.2f} s  ->  {rate:.0f} updates/s  (target >= 500)")
    print(
        f"  latency ms      : p50 {pct(0.50):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}  "
        f"max {ordered[-1] * 1000:.1f}  mean {statistics.fmean(ordered) * 1000:.1f}  (target p99 <= 200)"
    )
    print(
        f"  bot process CPU : {cpu:.2f} s ({cpu / max(len(latencies), 1) * 1000:.2f} ms per update, "
        f"includes the warm-up)"
    )
    print(f"  Bot API calls   : {api_calls}   errors: {len(errors)} {sorted(set(errors))[:3]}")
    return 0 if not errors else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="updates in flight at once (at saturation latency = in flight / throughput)",
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a temporary database on the local PostgreSQL (MEETMATT_BENCH_PG_ADMIN_URL)",
    )
    parser.add_argument(
        "--cooldown", type=float, default=0.0, help="BOT_COOLDOWN_SECONDS (0: every update is handled fully)"
    )
    args = parser.parse_args()
    if args.postgres:
        return asyncio.run(run_on_fresh_postgres(args.customers, args.concurrency, args.cooldown))
    return asyncio.run(run(args.customers, args.concurrency, args.database_url, args.cooldown))


if __name__ == "__main__":
    sys.exit(main())
