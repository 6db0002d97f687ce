"""Load test of POST /webhooks/stripe on PostgreSQL, against a bare aiohttp handler as the baseline.

    .venv/bin/python bench/webhook_load.py [--count 2000] [--concurrency 50] [--redeliver 0.1]

What it does:
1. creates a temporary PostgreSQL database (dropped at the end), migrates it, seeds `count` orders;
2. starts `python main.py web` on it in a subprocess (the real server, real settings) and sends
   `count` signed `checkout.session.completed` events (plus a share of redeliveries of the same
   events, mixed in, as Stripe does) at the given concurrency from this process;
3. prints events/s, p50/p95/p99 latency, and checks the database: every order paid, exactly one
   provision job per order, duplicate jobs found (must be 0);
4. runs the same load against a bare aiohttp server whose handler only answers 200, and prints the
   ratio of the two. Target on a 2-core machine: >= 1,000 events/s and p99 <= 100 ms.

Set MEETMATT_BENCH_PG_ADMIN_URL to use another PostgreSQL server (default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("MEETMATT_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

BARE_SERVER = """
import sys
from aiohttp import web

async def ok(request):
    await request.read()
    return web.json_response({"received": True})

app = web.Application()
app.router.add_post("/webhooks/stripe", ok)
app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(body: bytes, secret: str) -> str:
    t = int(time.time())
    return f"t={t},v1={hmac.new(secret.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def session_id(order_id: int) -> str:
    return f"cs_test_bench_{order_id}"


def build_events(order_ids: list[int], redeliver: float, seed: int = 7) -> list[bytes]:
    """One paid event per order, then a share of them again (same event id), shuffled together."""
    bodies = []
    for order_id in order_ids:
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27",
            "data": {
                "object": {
                    # the order's own Checkout Session (seeded on the order): only that one pays for it
                    "id": session_id(order_id),
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": 2900,
                    "currency": "usd",
                    "client_reference_id": str(order_id),
                    "payment_intent": f"pi_{uuid.uuid4().hex}",
                    "metadata": {
                        "order_id": str(order_id),
                        "userId": str(10_000 + order_id),
                        "botName": f"Agent {order_id}",
                        "packageType": "starter",
                    },
                }
            },
        }
        bodies.append(json.dumps(event).encode())
    rng = random.Random(seed)
    bodies += rng.sample(bodies, int(len(bodies) * redeliver))
    rng.shuffle(bodies)
    return bodies


async def load(
    url: str, bodies: list[bytes], secret: str, concurrency: int
) -> tuple[float, list[float], dict]:
    """Send every body with `concurrency` requests in flight; (seconds, latencies, status counts)."""
    signed = [(body, sign(body, secret)) for body in bodies]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    index = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:

        async def worker() -> None:
            nonlocal index
            while index < len(signed):
                body, signature = signed[index]
                index += 1
                started = time.perf_counter()
                async with http.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                ) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - started)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, statuses


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(name: str, elapsed: float, latencies: list[float], statuses: dict) -> float:
    rate = len(latencies) / elapsed
    print(
        f"{name}: {len(latencies)} requests in {elapsed:.2f}s = {rate:,.0f} events/s; latency "
        f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p95 {percentile(latencies, 95) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, mean {statistics.fmean(latencies) * 1000:.1f} ms; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    return rate


async def wait_healthy(url: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited early with {proc.returncode}")
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not become healthy at {url}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def seed_orders(database_url: str, key: str, count: int) -> list[int]:
    from models import Customer, Order
    from services.infra.db import open_database

    async with open_database(database_url, key):
        customers = [Customer(telegram_id=10_000 + i, full_name=f"Bench {i}") for i in range(count)]
        await Customer.bulk_create(customers, batch_size=500)
        by_tid = {c.telegram_id: c.id for c in await Customer.all()}
        await Order.bulk_create(
            [
                Order(customer_id=by_tid[10_000 + i], package="starter", bot_name=f"Agent {i}", amount=2900)
                for i in range(count)
            ],
            batch_size=500,
        )
        ids = sorted(await Order.all().values_list("id", flat=True))
        for order_id in ids:  # setup only: each order gets the session id its paid event carries
            await Order.filter(id=order_id).update(stripe_session_id=session_id(order_id))
        return ids


async def check_database(database_url: str) -> tuple[int, int, int, int]:
    """(orders paid, provision jobs, orders with more than one provision job, stripe events)."""
    conn = await asyncpg.connect(database_url)
    try:
        paid = await conn.fetchval("SELECT count(*) FROM \"order\" WHERE status = 'paid'")
        jobs = await conn.fetchval("SELECT count(*) FROM job WHERE kind = 'provision'")
        duplicates = await conn.fetchval(
            "SELECT count(*) FROM (SELECT payload->>'order_id' FROM job WHERE kind = 'provision' "
            "GROUP BY payload->>'order_id' HAVING count(*) > 1) d"
        )
        events = await conn.fetchval("SELECT count(*) FROM stripe_event")
        return paid, jobs, duplicates, events
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="distinct paid events (one order each)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--redeliver", type=float, default=0.1, help="share of events delivered twice")
    parser.add_argument("--pool", type=int, default=20, help="PostgreSQL pool size of the server")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from services.infra.db import migrate

    db_name = f"meetmatt_bench_{secrets.token_hex(5)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    plain_url = f"{base}/{db_name}"
    server_url = f"{plain_url}?minsize=2&maxsize={args.pool}"
    key = Fernet.generate_key().decode()
    secret = f"whsec_{secrets.token_hex(24)}"
    procs: list[asyncio.subprocess.Process] = []
    try:
        await migrate(plain_url, key)
        warmup = max(100, args.count // 10)
        order_ids = await seed_orders(plain_url, key, args.count + warmup)
        print(f"database {db_name}: {len(order_ids)} orders seeded ({warmup} for warm-up)")

        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": server_url,
            "ENCRYPTION_KEY": key,
            "STRIPE_WEBHOOK_SECRET": secret,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }
        profile = os.environ.get("MEETMATT_BENCH_PROFILE")  # a path: cProfile the server into it
        prefix = ["-m", "cProfile", "-o", profile] if profile else []
        real = await asyncio.create_subprocess_exec(
            sys.executable, *prefix, "main.py", "web", cwd=ROOT, env=env
        )
        procs.append(real)
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", real)
        url = f"http://127.0.0.1:{port}/webhooks/stripe"
        await load(url, build_events(order_ids[:warmup], 0), secret, args.concurrency)
        bodies = build_events(order_ids[warmup:], args.redeliver)
        print(
            f"sending {len(bodies)} signed checkout.session.completed events ({args.count} distinct, "
            f"{len(bodies) - args.count} redeliveries) at concurrency {args.concurrency}"
        )
        cpu_before = cpu_seconds(real.pid)
        elapsed, latencies, statuses = await load(url, bodies, secret, args.concurrency)
        server_cpu = cpu_seconds(real.pid) - cpu_before
        real_rate = report("meetmatt web (PostgreSQL)", elapsed, latencies, statuses)
        print(
            f"server process CPU: {server_cpu:.2f}s for {len(bodies)} events "
            f"({server_cpu / len(bodies) * 1e3:.2f} ms per event, {server_cpu / elapsed:.0%} of one core)"
        )
        real_p99, real_statuses = percentile(latencies, 99), statuses
        await stop(real)

        paid, jobs, duplicates, events = await check_database(plain_url)
        total = args.count + warmup
        print(
            f"database: {paid}/{total} orders paid, {jobs} provision jobs, {events} stripe events, "
            f"duplicate jobs found: {duplicates}"
        )

        bare_port = free_port()
        bare = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BARE_SERVER, str(bare_port), cwd=ROOT
        )
        procs.append(bare)
        await wait_healthy(f"http://127.0.0.1:{bare_port}/healthz", bare)
        bare_url = f"http://127.0.0.1:{bare_port}/webhooks/stripe"
        await load(bare_url, bodies[: len(bodies) // 10], secret, args.concurrency)
        elapsed, latencies, statuses = await load(bare_url, bodies, secret, args.concurrency)
        bare_rate = report("bare aiohttp handler", elapsed, latencies, statuses)
        await stop(bare)

        print(
            f"ratio meetmatt/bare: {real_rate / bare_rate:.2f} "
            f"({real_rate:,.0f} vs {bare_rate:,.0f} events/s)"
        )
        ok = duplicates == 0 and paid == total and jobs == total and real_statuses.get(200) == len(bodies)
        print(
            f"target >= 1000 events/s and p99 <= 100 ms: "
            f"{'met' if real_rate >= 1000 and real_p99 <= 0.1 else 'NOT met'}; "
            f"correctness: {'ok' if ok else 'FAILED'}"
        )
        return 0 if ok else 1
    finally:
        for proc in procs:
            await stop(proc)
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
