"""Provisioning pipeline: 20 paid orders at once through the real saga and worker, against the local
stand-ins made as slow as the outside world (scaled down), and the same orders with the saga's two
branches run one after the other as the baseline.

usage: python -m bench.pipeline [--orders 20] [--accounts 6] [--scale 0.1] [--concurrency N]
                                [--postgres [--admin-url postgresql://postgres@127.0.0.1:5432/test]]

NEEDS THE TEST EXTRA (`pip install -e '.[test]'`): it imports the stand-ins from tests/standins
(moto, telegram-test-api, the Stripe stand-in, the SSH instance stand-in, the scripted BotFather).

What runs is `python main.py run` (`cli.run.running`: web server + bot + worker in one
loop) on a temporary SQLite file, or with --postgres on a fresh temporary PostgreSQL database
(created, migrated, dropped). Each order is created with a real Stripe Checkout Session (stand-in)
and paid by a signed `checkout.session.completed` webhook; the worker's `provision` job does the rest.

Latencies, real world -> injected (times --scale):
  BotFather: 1.5 s per reply (ScriptedTelegram latency; a creation is ~9 replies with description
  and about text); instance boot + cloud-init: 240 s to the bootstrap marker (the SSH stand-in
  answers "pending" until 240 s x scale after the connection's first bootstrap check, i.e. from
  just after launch); every SSH command: 0.3 s; the gateway: MEASURED at the start of every run,
  the median start-to-ready of the REAL pinned OpenClaw gateway (tests/standins/openclaw: `openclaw
  gateway` on a rendered config pointed at the Telegram and Kimi stand-ins, started
  --gateway-starts times, 3 by default; `--gateway-start S` uses a known figure instead; 10.8 s
  and 13 s were seen on the 2-core dev machine). The runtime's poll interval (bootstrap marker
  and /readyz) is production's 10 s, scaled the same way (production polls /readyz every 2 s,
  so activation here is a little pessimistic). The stand-in's boot clock starts at the first
  check, so the poll phase is aligned with the boot: production's average half-interval wait
  after a boot ends is not exercised.
  Fixed costs of the system (worker poll 0.5 s and one-at-a-time claims, SSH handshakes, database
  writes, Bot API calls, moto's own RunInstances/DescribeInstances time) are NOT scaled: at a
  small --scale they weigh more than they would in production.

Baseline ("one step after another"): the same saga, orders still concurrent (one worker slot
each), but each order's two branches run in sequence: launch, wait for the boot, then create the
bot and send the link, then verify and activate (a subclass made in this file; production code
is untouched).
The bench plays the customers: as soon as an order's Verification row exists (the deep link was
sent), the customer sends `/start <code>` to the new bot through telegram-test-api.

Times per order come from the database: paid = the provision job's created_at (the webhook enqueued
it), link = the Verification row's created_at, live = the job's recorded "live" step.
The ideal critical path is derived from the injected latencies (not measured):
  max(bot creation = replies x reply latency, boot) + activation (4 SSH commands + gateway start).
Efficiency = ideal / actual, per order (p50) and for the batch (ideal / makespan).

Target: efficiency >= 0.9 (concurrent saga). Prints figures; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# gateway_start is replaced by a measurement of the real gateway at every run (measure_gateway_start)
REAL = {"reply": 1.5, "boot": 240.0, "ssh_command": 0.3, "gateway_start": float("nan"), "poll": 10.0}
ACTIVATION_COMMANDS = 4  # two uploads, systemctl enable, systemctl restart (then /readyz)
CUSTOMER_BASE_ID = 930_000


@dataclass
class Latencies:
    reply: float
    boot: float
    ssh_command: float
    gateway_start: float
    poll: float

    @classmethod
    def scaled(cls, scale: float, real: dict[str, float]) -> Latencies:
        return cls(**{k: v * scale for k, v in real.items()})

    def activation(self) -> float:
        return ACTIVATION_COMMANDS * self.ssh_command + self.gateway_start


@dataclass
class OrderTimes:
    order_id: int
    status: str
    to_link: float | None
    to_live: float | None
    paid: datetime
    live: datetime | None


@dataclass
class VariantResult:
    name: str
    orders: list[OrderTimes]
    phases: dict[str, list[float]]
    makespan: float
    replies_per_bot: float
    bots_per_account: dict[str, int]
    max_parallel_per_account: int
    overlaps: int
    wall: float


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto in its own process, so its CPU work does not hold this process's GIL."""
    from tests.standins.stack import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as answer:  # noqa: S310 - local
                answer.read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start within 30 s")


class SequentialSaga:
    """The baseline: the same saga with its branches one after the other (launch, wait for boot,
    then create the bot and send the link). Built as a subclass at run time, so production code
    is untouched."""

    @staticmethod
    def build(saga: Any) -> Any:
        from services.provisioning.saga import ProvisioningSaga

        class _Sequential(ProvisioningSaga):
            async def _server_branch(self, claimed, order, instance) -> None:  # type: ignore[override]
                await ProvisioningSaga._server_branch(self, claimed, order, instance)
                await ProvisioningSaga._bot_branch(self, claimed, order, instance)

            async def _bot_branch(self, claimed, order, instance) -> None:  # type: ignore[override]
                return None

        return _Sequential(saga.d)


async def add_accounts(count: int) -> None:
    from models import AccountStatus, TelegramAccount
    from tests.standins.botfather import fake_string_session

    for n in range(count):
        await TelegramAccount.create(
            phone=f"+1555009{n:04d}",
            api_id=200_000 + n,
            api_hash=secrets.token_hex(16),
            session=fake_string_session(),
            status=AccountStatus.ACTIVE,
            priority=10,
        )


async def play_customers(
    order_ids: list[int], customers: dict[int, int], base_url: str, done: asyncio.Event
) -> None:
    """Each customer opens their deep link the moment it exists: `/start <code>` on the new bot."""
    from models import Verification
    from tests.standins.telegram import TelegramTestUser

    sent: set[int] = set()
    users = []
    try:
        while not done.is_set() and len(sent) < len(order_ids):
            rows = await Verification.filter(instance__order_id__in=order_ids).select_related("instance")
            for row in rows:
                order_id = row.instance.order_id
                if order_id in sent or not row.instance.bot_token:
                    continue
                user = TelegramTestUser(
                    base_url, row.instance.bot_token, user_id=customers[order_id], first_name="Bench"
                )
                users.append(user)
                await user.send(f"/start {row.code}")
                sent.add(order_id)
            await asyncio.sleep(0.02)
    finally:
        for user in users:
            await user.close()


async def run_variant(
    name: str,
    db_url: str,
    key: str,
    tmp: Path,
    moto_url: str,
    telegram: Any,
    lat: Latencies,
    args: argparse.Namespace,
) -> VariantResult:
    from cli.run import running
    from models import Customer, Order, OrderStatus, Verification
    from services.infra.db import open_database
    from services.jobs import kinds as job_kinds
    from services.payments.stripe_api import PaymentsService, close_stripe_client, make_stripe_client
    from tests.standins.stack import moto_reset, standin_stack

    moto_reset(moto_url)
    async with open_database(db_url, key):
        overrides = {
            "worker_concurrency": args.concurrency,
            "bootstrap_timeout_s": lat.boot * 3 + 30,
            "readiness_timeout_s": lat.gateway_start * 5 + 10,
            "ssh_connect_timeout": 10.0,
            "job_lease_seconds": 60,
        }
        async with standin_stack(
            db_url,
            key,
            tmp / name,
            moto_url=moto_url,
            telegram=telegram,
            botfather_latency=lat.reply,
            **overrides,
        ) as stack:
            behaviour = stack.ssh.behaviour
            behaviour.command_delay_s = lat.ssh_command
            behaviour.boot_delay_s = lat.boot
            behaviour.gateway_start_s = lat.gateway_start
            await add_accounts(args.accounts)
            options = stack.runtime_options(poll_interval_s=lat.poll)
            async with running(stack.settings, open_db=False, options=options) as app:
                if name == "sequential":
                    app.runtime.handlers[job_kinds.PROVISION] = SequentialSaga.build(app.runtime.saga).run
                marks = observe_phases(app.runtime.saga.d)
                handler = app.runtime.handlers[job_kinds.PROVISION]

                async def provision(claimed: Any, handler: Any = handler) -> None:
                    claims.setdefault(claimed.job.payload["order_id"], time.time())
                    await handler(claimed)

                claims: dict[int, float] = {}
                app.runtime.handlers[job_kinds.PROVISION] = provision
                # one-time set-up an operator does before selling (`instances prepare-network`): the
                # key pair and security group exist; it also wakes moto's EC2 backend (seconds, once)
                await app.runtime.fleet.ensure_network()
                stripe_client = make_stripe_client(stack.settings)
                payments = PaymentsService(
                    stripe_client, stack.settings.packages, bot_username="meetmatt_bench_bot"
                )
                orders, customers = [], {}
                for i in range(args.orders):
                    customer = await Customer.create(telegram_id=CUSTOMER_BASE_ID + i, full_name=f"Bench {i}")
                    order = await Order.create(
                        customer=customer,
                        package="starter",
                        bot_name=f"Bench agent {i}",
                        description="A benchmark agent",
                        bot_username=f"bench_{name[:3]}_{i}_bot",
                    )
                    await payments.create_checkout(order)
                    await order.refresh_from_db()
                    orders.append(order)
                    customers[order.id] = customer.telegram_id
                await close_stripe_client(stripe_client)
                ids = [o.id for o in orders]
                done = asyncio.Event()
                player = asyncio.create_task(play_customers(ids, customers, stack.telegram.base_url, done))
                started = time.monotonic()
                statuses = await asyncio.gather(*(stack.pay(o, app.web_port) for o in orders))
                if any(s != 200 for s in statuses):
                    raise RuntimeError(f"the webhook refused payments: {statuses}")
                finished = {OrderStatus.ACTIVE, OrderStatus.FAILED}
                deadline = started + args.timeout
                while time.monotonic() < deadline:
                    if await Order.filter(id__in=ids, status__in=list(finished)).count() == len(ids):
                        break
                    await asyncio.sleep(0.05)
                wall = time.monotonic() - started
                done.set()
                await player

            times = []
            for order in await Order.filter(id__in=ids).order_by("id"):
                job = await _provision_job(order.id)
                verification = await Verification.get_or_none(instance__order_id=order.id)
                live_at = (job.state or {}).get("live", {}).get("at")
                live = datetime.fromisoformat(live_at) if live_at else None
                times.append(
                    OrderTimes(
                        order.id,
                        order.status.value,
                        (verification.created_at - job.created_at).total_seconds() if verification else None,
                        (live - job.created_at).total_seconds() if live else None,
                        job.created_at,
                        live,
                    )
                )
            finished_at = [t.live for t in times if t.live]
            makespan = (
                (max(finished_at) - min(t.paid for t in times)).total_seconds()
                if len(finished_at) == len(times)
                else float("nan")
            )
            world = stack.botfather
            per_account: dict[str, int] = {}
            for phone, _ in world.created:
                per_account[phone] = per_account.get(phone, 0) + 1
            replies = len(world.sent) / len(world.created) if world.created else float("nan")
            phases = phase_figures(times, marks)
            phases["to_claim"] = [
                claims[t.order_id] - t.paid.timestamp() for t in times if t.order_id in claims
            ]
            return VariantResult(
                name,
                times,
                phases,
                makespan,
                replies,
                per_account,
                max(world.max_parallel.values(), default=0),
                len(world.overlaps),
                wall,
            )


def observe_phases(deps: Any) -> dict[int, dict[str, float]]:
    """Wall-clock marks per instance row id around the server steps (observation only)."""
    marks: dict[int, dict[str, float]] = {}

    def timed(step: Any, name: str) -> Any:
        async def wrapper(instance: Any, *rest: Any) -> Any:
            marks.setdefault(instance.id, {"order_id": instance.order_id})[f"{name}_start"] = time.time()
            try:
                return await step(instance, *rest)
            finally:
                marks[instance.id][f"{name}_end"] = time.time()

        return wrapper

    deps.wait_bootstrapped = timed(deps.wait_bootstrapped, "boot")
    deps.activate = timed(deps.activate, "activate")
    fleet_launch = deps.fleet.launch

    async def launch(**kwargs: Any) -> str:
        mark = launches.setdefault(kwargs["order_id"], {})
        mark["start"] = time.time()
        try:
            return await fleet_launch(**kwargs)
        finally:
            mark["end"] = time.time()

    launches: dict[int, dict[str, float]] = {}
    marks[0] = launches  # type: ignore[assignment]
    deps.fleet.launch = launch
    return marks


def phase_figures(times: list[OrderTimes], marks: dict[int, dict[str, float]]) -> dict[str, list[float]]:
    """Per order: paid -> waiting for boot (claim, launch, EC2 'running'), the boot wait, boot done
    -> activation start (bot/link if later, verification), activation, activation -> live row."""
    by_order = {t.order_id: t for t in times}
    launches = marks.pop(0, {})
    phases: dict[str, list[float]] = {
        "to_launch": [],
        "launch": [],
        "to_launched": [],
        "boot_wait": [],
        "to_activate": [],
        "activation": [],
        "to_live": [],
    }
    for order_id, mark in launches.items():  # type: ignore[attr-defined]
        if order_id in by_order and "end" in mark:
            phases["to_launch"].append(mark["start"] - by_order[order_id].paid.timestamp())
            phases["launch"].append(mark["end"] - mark["start"])
    for m in marks.values():
        t = by_order.get(m.get("order_id", -1))
        if t is None or t.live is None or len(m) < 5:
            continue
        phases["to_launched"].append(m["boot_start"] - t.paid.timestamp())
        phases["boot_wait"].append(m["boot_end"] - m["boot_start"])
        phases["to_activate"].append(m["activate_start"] - m["boot_end"])
        phases["activation"].append(m["activate_end"] - m["activate_start"])
        phases["to_live"].append(t.live.timestamp() - m["activate_end"])
    return phases


async def _provision_job(order_id: int) -> Any:
    from models import Job
    from services.jobs import kinds as job_kinds

    for job in await Job.filter(kind=job_kinds.PROVISION).all():
        if job.payload.get("order_id") == order_id:
            return job
    raise RuntimeError(f"order {order_id} has no provision job")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def report(result: VariantResult, lat: Latencies, scale: float) -> float:
    bot = result.replies_per_bot * lat.reply
    ideal = max(bot, lat.boot) + lat.activation()
    links = [t.to_link for t in result.orders if t.to_link is not None]
    lives = [t.to_live for t in result.orders if t.to_live is not None]
    failed = [t.order_id for t in result.orders if t.status != "active"]
    per_order = [ideal / t for t in lives]
    batch = ideal / result.makespan if result.makespan == result.makespan else float("nan")
    real = 1 / scale
    print(
        f"  orders live: {len(lives)}/{len(result.orders)}"
        + (f"  NOT live: {failed}" if failed else "")
        + f"   (bench wall {result.wall:.2f} s)"
    )
    print(
        f"  makespan (first payment -> last live): {result.makespan:7.2f} s  "
        f"(~{result.makespan * real:5.0f} s real)"
    )
    print(
        f"  payment -> link   p50 {pct(links, 0.5):6.2f} s   p95 {pct(links, 0.95):6.2f} s   "
        f"max {max(links, default=float('nan')):6.2f} s"
    )
    print(
        f"  payment -> live   p50 {pct(lives, 0.5):6.2f} s   p95 {pct(lives, 0.95):6.2f} s   "
        f"max {max(lives, default=float('nan')):6.2f} s"
    )
    print(
        f"  efficiency (ideal {ideal:.2f} s / actual): per order p50 {statistics.median(per_order):.3f}  "
        f"worst {min(per_order, default=float('nan')):.3f};  batch (ideal / makespan) {batch:.3f}"
    )
    names = {
        "to_claim": "paid -> the worker starts the job (poll, claim)",
        "to_launch": "paid -> RunInstances called (worker claim, first steps)",
        "launch": "RunInstances (moto)",
        "to_launched": "paid -> boot wait starts (+ EC2 'running' waiter)",
        "boot_wait": f"boot wait (injected {lat.boot:.2f} s)",
        "to_activate": "boot done -> activation starts (bot/link if later, verification)",
        "activation": f"activation (ideal {lat.activation():.2f} s)",
        "to_live": "activation -> live row",
    }
    overhead = statistics.median(lives) - ideal if lives else float("nan")
    ideal_real = ideal / scale
    if result.name == "concurrent":
        print(
            f"  beyond the ideal: {overhead:.2f} s per order (p50). Fixed costs do not shrink with "
            f"--scale: if none of it scaled, at real latencies efficiency would be "
            f"~{ideal_real / (ideal_real + overhead):.3f}"
        )
    else:
        print(
            f"  beyond the ideal: {overhead:.2f} s per order (p50), mostly the bot creation (and its wait "
            "for a free creator account) now after the boot instead of beside it"
        )
    print("  where the time goes, p50 / max per order:")
    for key, label in names.items():
        values = result.phases.get(key) or []
        print(f"    {label:<66} {pct(values, 0.5):6.2f} / {max(values, default=float('nan')):6.2f} s")
    print(
        f"  BotFather: {result.replies_per_bot:.1f} replies per bot; bots per account "
        f"{sorted(result.bots_per_account.values(), reverse=True)}; max dialogues at once on one "
        f"account {result.max_parallel_per_account}; overlapping dialogues {result.overlaps}"
    )
    return statistics.median(per_order) if per_order else float("nan")


async def measure_gateway_start(starts: int, tmp: Path, telegram_api_root: str) -> list[float]:
    """Start-to-ready (first 200 on /readyz) of the real pinned OpenClaw gateway, `starts` times, each
    in a fresh home with the files activation renders (model: the Kimi stand-in)."""
    from services.cloud.openclaw_config import AgentEndpoints, AgentSpec, render_agent_files
    from tests.standins import free_port
    from tests.standins.kimi import KimiStandIn
    from tests.standins.openclaw import GatewayProcess, ensure_openclaw, install_home

    await asyncio.to_thread(ensure_openclaw)
    found = []
    async with KimiStandIn() as kimi:
        for n in range(starts):
            home = tmp / f"gateway-{n}"
            files = render_agent_files(
                AgentSpec(
                    bot_token=f"{700_000_000 + n}:AA{secrets.token_urlsafe(26)[:33]}",
                    allowed_user_id=4242,
                    gateway_token=secrets.token_urlsafe(32),
                    endpoints=AgentEndpoints(
                        model_api_key=kimi.api_key,
                        model_base_url=kimi.base_url,
                        telegram_api_root=telegram_api_root,
                    ),
                )
            )
            install_home(home, files.config_text, files.env_text)
            gateway = GatewayProcess(home, free_port())
            gateway.start()
            try:
                found.append(await gateway.wait_ready(180))
            finally:
                await asyncio.to_thread(gateway.stop)
    return found


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--accounts", type=int, default=6, help="creator accounts in the pool")
    parser.add_argument("--scale", type=float, default=0.1, help="real-world latencies times this")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="WORKER_CONCURRENCY (default: orders + 4, so every order has a slot)",
    )
    parser.add_argument("--timeout", type=float, default=None, help="give up on a variant after this (s)")
    parser.add_argument("--postgres", action="store_true", help="a fresh temporary PostgreSQL database")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--gateway-starts",
        type=int,
        default=3,
        help="real OpenClaw gateway starts to measure start-to-ready from",
    )
    parser.add_argument(
        "--gateway-start",
        type=float,
        default=None,
        help="use this start-to-ready (s) instead of measuring the real gateway",
    )
    args = parser.parse_args()
    args.concurrency = args.concurrency or args.orders + 4

    import logging

    logging.basicConfig(
        level=getattr(logging, os.environ.get("BENCH_LOG", "ERROR")),
        format="%(asctime)s %(name)s %(message)s",
    )
    from cryptography.fernet import Fernet

    from services.infra.db import migrate
    from tests.standins.telegram import TelegramTestApi

    key = Fernet.generate_key().decode()
    variants = ["concurrent"] if args.no_baseline else ["concurrent", "sequential"]
    admin = None
    urls: dict[str, str] = {}
    moto_process = None
    telegram = None
    with tempfile.TemporaryDirectory(prefix="meetmatt-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if args.postgres:
                import asyncpg

                admin = await asyncpg.connect(args.admin_url)
                for variant in variants:
                    name = f"meetmatt_bench_{uuid.uuid4().hex[:8]}"
                    await admin.execute(f'CREATE DATABASE "{name}"')
                    urls[variant] = args.admin_url.rsplit("/", 1)[0] + "/" + name
            else:
                urls = {v: f"sqlite://{tmp / f'{v}.sqlite3'}" for v in variants}
            for url in urls.values():
                await migrate(url, key)
            moto_process, moto_url = start_moto()
            telegram = TelegramTestApi.start()
            if args.gateway_start is None:
                measured = await measure_gateway_start(args.gateway_starts, tmp, telegram.base_url)
                gateway_start = statistics.median(measured)
                print(
                    f"real OpenClaw gateway start-to-ready, measured now: "
                    f"{', '.join(f'{m:.1f}' for m in measured)} s -> median {gateway_start:.1f} s"
                )
            else:
                gateway_start = args.gateway_start
                print(f"real OpenClaw gateway start-to-ready: {gateway_start:.1f} s (given, not measured)")
            real = dict(REAL, gateway_start=gateway_start)
            lat = Latencies.scaled(args.scale, real)
            bot_ideal_guess = 9 * lat.reply
            args.timeout = args.timeout or (
                (lat.boot + bot_ideal_guess * args.orders + lat.activation()) * 3 + 60
            )

            backend = "PostgreSQL (temporary database)" if args.postgres else "SQLite (temporary file)"
            print(f"provisioning pipeline bench: {args.orders} orders paid at once, {backend}")
            print(
                f"  worker: WORKER_CONCURRENCY={args.concurrency} (one slot per order, + 4 for other "
                f"jobs); creator accounts: {args.accounts} (one BotFather dialogue at a time each)"
            )
            print(
                f"  latencies x{args.scale:g} of real: BotFather reply {lat.reply:.3f} s (1.5 s), boot "
                f"{lat.boot:.2f} s (240 s), SSH command {lat.ssh_command:.3f} s (0.3 s), gateway start "
                f"{lat.gateway_start:.2f} s ({gateway_start:.1f} s, real gateway), bootstrap/readiness "
                f"poll {lat.poll:.2f} s (10 s)"
            )
            print(
                "  ideal per order (derived from the injected latencies) = max(replies x reply latency, "
                "boot) + activation (4 SSH commands + gateway start)"
            )
            medians = {}
            for variant in variants:
                if variant == "concurrent":
                    print(
                        "\nconcurrent saga (production: launch+boot and bot+link in parallel, "
                        "then verify, activate):"
                    )
                else:
                    print(
                        "\nbaseline, one step after another (the same saga with its branches sequential: "
                        "launch, wait for boot, then create the bot and send the link, then verify, "
                        "activate; orders still run in parallel):"
                    )
                result = await run_variant(variant, urls[variant], key, tmp, moto_url, telegram, lat, args)
                medians[variant] = report(result, lat, args.scale)
            print(f"\ntarget: efficiency >= 0.9 (concurrent, per order p50): {medians['concurrent']:.3f}")
        finally:
            if telegram is not None:
                telegram.stop()
            if moto_process is not None:
                moto_process.terminate()
                moto_process.wait(10)
            if admin is not None:
                for url in urls.values():
                    await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
                await admin.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MEETMATT_LOG_LEVEL", "ERROR")
    sys.exit(asyncio.run(main()))
