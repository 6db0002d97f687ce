"""Streamed completions through Meet Matt's model gateway vs straight to the Kimi stand-in, same run.

    .venv/bin/python -m bench.model_gateway [--streams 400] [--concurrency 50] [--chunks 30]
                                            [--chunk-delay 0.01] [--db sqlite|postgres] [--rounds 2]
                                            [--burst]

(as a module: run as a script, bench/queue.py would shadow the standard library's `queue`)

What it does:
1. starts the Kimi stand-in (tests/standins/kimi.py) in its own process: every answer is streamed in
   `chunks` server-sent events, `chunk-delay` seconds apart, as Moonshot streams;
2. makes a temporary database (SQLite file, or a PostgreSQL database dropped at the end), migrates it,
   creates `concurrency` instances with a model key each (quotas so large they never refuse, while
   every quota check still runs), and starts `python main.py web` on it in a subprocess with
   MODEL_UPSTREAM_BASE_URL pointing at the stand-in (the real server, real settings);
3. from this process, runs `streams` streamed completions at `concurrency` at once, straight to the
   stand-in and then through the gateway (each instance's key), alternating `rounds` times. The
   `concurrency` workers start spread over one stream's duration (independent agents do not start
   in lockstep); `--burst` starts them all at once instead;
4. prints, for each path: time to first byte p50/p99, whole-stream p50/p99, streams/s; then the
   added latency to first byte (gateway minus direct, p50 and p99) and the throughput ratio.
   Targets: <= 5 ms added at p50, ratio >= 0.5 at 50 concurrent streams.

Set MEETMATT_BENCH_PG_ADMIN_URL to use another PostgreSQL server (default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("MEETMATT_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PLATFORM_KEY = "sk-bench-platform-" + uuid.uuid4().hex

STAND_IN = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.standins.kimi import KimiStandIn, Reply

async def main():
    kimi = KimiStandIn(api_key=sys.argv[2])
    chunks, delay = int(sys.argv[3]), float(sys.argv[4])
    kimi.responder = lambda body: Reply(text="x" * (chunks * 8), chunks=chunks, chunk_delay=delay)
    await kimi.start()
    print(kimi.base_url, flush=True)
    while True:
        await asyncio.sleep(60)
        kimi.requests.clear()  # the bench sends thousands: keep the record small

asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Sample:
    first_byte: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    wall: float = 0.0
    streams: int = 0
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.first_byte += other.first_byte
        self.total += other.total
        self.wall += other.wall
        self.streams += other.streams
        self.errors += other.errors

    @property
    def rate(self) -> float:
        return self.streams / self.wall if self.wall else 0.0


async def run_streams(url: str, keys: list[str], streams: int, concurrency: int, stagger: float) -> Sample:
    body = {
        "model": "kimi-k2.5",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "bench"}],
    }
    sample = Sample()
    counter = iter(range(streams))
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def worker(slot: int) -> None:
            key = keys[slot % len(keys)]
            await asyncio.sleep(slot * stagger)
            for _ in counter:
                started = time.perf_counter()
                first = None
                try:
                    async with http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
                        if resp.status != 200:
                            sample.errors += 1
                            await resp.read()
                            continue
                        async for _data in resp.content.iter_any():
                            if first is None:
                                first = time.perf_counter() - started
                except aiohttp.ClientError:
                    sample.errors += 1
                    continue
                sample.first_byte.append(first or 0.0)
                sample.total.append(time.perf_counter() - started)
                sample.streams += 1

        begun = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        # the staggered start is not throughput: count from the moment every stream was running
        sample.wall = time.perf_counter() - begun - (concurrency - 1) * stagger
    return sample


async def prepare_database(url: str, encryption_key: str, instances: int) -> list[str]:
    from models import Customer, Instance, InstanceStatus, Order
    from services.infra.db import migrate, open_database
    from services.jobs.queue import utcnow
    from services.model_gateway.keys import issue_instance_key
    from services.model_gateway.quota import set_override

    await migrate(url, encryption_key)
    keys = []
    async with open_database(url, encryption_key):
        for n in range(instances):
            customer = await Customer.create(telegram_id=10_000 + n)
            order = await Order.create(
                customer=customer, package="starter", bot_name=f"bench {n}", paid_at=utcnow()
            )
            instance = await Instance.create(
                order=order, customer=customer, status=InstanceStatus.ACTIVE, bot_username=f"bench_{n}_bot"
            )
            # quotas so large they never refuse, but every check still runs as in production
            await set_override(instance.id, tokens_per_month=10**12, requests_per_minute=10**6)
            keys.append(await issue_instance_key(instance.id))
    return keys


async def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:g}s")


def report(name: str, s: Sample) -> None:
    print(
        f"{name:8s} streams {s.streams:5d}  errors {s.errors:3d}  "
        f"first byte p50 {1000 * statistics.median(s.first_byte):7.2f} ms  "
        f"p99 {1000 * pct(s.first_byte, 0.99):7.2f} ms  "
        f"whole stream p50 {1000 * statistics.median(s.total):7.1f} ms  "
        f"p99 {1000 * pct(s.total, 0.99):7.1f} ms  {s.rate:7.1f} streams/s"
    )


async def measure(args: argparse.Namespace, upstream: str, base: str, keys: list[str]) -> None:
    await wait_http(f"{base}/healthz")
    direct_url, gateway_url = f"{upstream}/chat/completions", f"{base}/model/v1/chat/completions"
    stagger = 0.0 if args.burst else args.chunks * args.chunk_delay / args.concurrency
    print(
        f"{args.streams} streams x {args.rounds} rounds per path, {args.concurrency} at once "
        f"({'all started together' if args.burst else f'started {1000 * stagger:.1f} ms apart'}), "
        f"{args.chunks} chunks {1000 * args.chunk_delay:g} ms apart; database {args.db}"
    )
    await run_streams(direct_url, [PLATFORM_KEY], args.concurrency, args.concurrency, 0)  # warm-up
    await run_streams(gateway_url, keys, args.concurrency, args.concurrency, 0)
    direct, gateway = Sample(), Sample()
    for _ in range(args.rounds):
        direct.add(await run_streams(direct_url, [PLATFORM_KEY], args.streams, args.concurrency, stagger))
        gateway.add(await run_streams(gateway_url, keys, args.streams, args.concurrency, stagger))
    report("direct", direct)
    report("gateway", gateway)
    added50 = 1000 * (statistics.median(gateway.first_byte) - statistics.median(direct.first_byte))
    added99 = 1000 * (pct(gateway.first_byte, 0.99) - pct(direct.first_byte, 0.99))
    ratio = gateway.rate / direct.rate if direct.rate else 0.0
    print(f"added latency to first byte: p50 {added50:+.2f} ms (target <= 5), p99 {added99:+.2f} ms")
    print(f"throughput ratio gateway/direct: {ratio:.2f} (target >= 0.5)")


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=400, help="streams per path and round")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=30)
    parser.add_argument("--chunk-delay", type=float, default=0.01)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--profile-web",
        default=None,
        metavar="FILE",
        help="run the web server under cProfile and write its profile to FILE",
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="start all streams at the same instant (default: spread over one stream's "
        "duration, as independent agents arrive)",
    )
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    encryption_key = Fernet.generate_key().decode()
    tmp = tempfile.TemporaryDirectory()
    pg_name = None
    if args.db == "postgres":
        pg_name = f"meetmatt_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{pg_name}"'))
        db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_name}"
    else:
        db_url = f"sqlite://{tmp.name}/bench.sqlite3"

    stand_in = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(ROOT), PLATFORM_KEY, str(args.chunks), str(args.chunk_delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    web = None
    try:
        upstream = stand_in.stdout.readline().strip()  # type: ignore[union-attr]
        keys = asyncio.run(prepare_database(db_url, encryption_key, args.concurrency))
        port = free_port()
        env = {
            "PATH": os.environ["PATH"],
            "HOME": tmp.name,
            "DATABASE_URL": db_url,
            "ENCRYPTION_KEY": encryption_key,
            "MOONSHOT_API_KEY": PLATFORM_KEY,
            "MODEL_UPSTREAM_BASE_URL": upstream,
            # `web` also serves the Stripe webhook and refuses to start without its secret
            "STRIPE_WEBHOOK_SECRET": "whsec_bench_" + secrets.token_hex(16),
            "LOG_LEVEL": "WARNING",
        }
        profile = ["-m", "cProfile", "-o", args.profile_web] if args.profile_web else []
        web = subprocess.Popen(
            [sys.executable, *profile, "main.py", "web", "--port", str(port)], cwd=ROOT, env=env
        )
        time.sleep(1.0)
        if web.poll() is not None:
            raise RuntimeError(f"`main.py web` exited at start (code {web.returncode}): see its output above")
        asyncio.run(measure(args, upstream, f"http://127.0.0.1:{port}", keys))
        return 0
    finally:
        for proc in (web, stand_in):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if pg_name:
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
