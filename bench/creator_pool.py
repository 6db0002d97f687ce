"""Creator-account pool: how parallel orders spread over accounts, and what the pool itself costs.

usage: python -m bench.creator_pool [--orders 60] [--accounts 3] [--latency 0.01] [--database sqlite|postgres]
Drives the real AccountPool over the scripted BotFather (tests/standins/botfather.py) with a fixed
per-reply latency. Prints wall time against the ideal (orders per account x replies x latency), the
pool's overhead per dialogue, dialogues seen overlapping on one account (must be 0), and the reply
parser's speed. Target: overhead per dialogue well under one BotFather reply (~1 s in real life).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet

from models import TelegramAccount
from services.accounts.botfather_replies import parse_reply
from services.accounts.pool import AccountPool
from services.infra.db import migrate, open_database
from services.jobs.queue import JobQueue
from tests.standins import botfather as bf
from tests.standins.botfather import ScriptedTelegram, fake_string_session

REPLIES_PER_DIALOGUE = 3 + 3 * 3  # /newbot, name, username; then 3 replies per customisation step


async def measure(url: str, key: str, orders: int, accounts: int, latency: float) -> None:
    async with open_database(url, key):
        for n in range(accounts):
            await TelegramAccount.create(
                phone=f"+1555000{n:04d}",
                api_id=1000 + n,
                api_hash=secrets.token_hex(16),
                session=fake_string_session(),
                priority=10 * (n + 1),
                bot_limit=1000,
            )
        world = ScriptedTelegram(latency=latency)
        pool = AccountPool(world.client_for, JobQueue("bench"), reply_timeout=5.0, bot_limit=1000)

        async def on_chosen(account_id: int, username: str) -> None:
            return None

        async def order(n: int) -> int:
            made = await pool.create_bot(
                name=f"Agent {n}",
                username_candidates=[f"bench_{n}_agent_bot"],
                description="d",
                about="a",
                photo=b"img",
                on_username_chosen=on_chosen,
            )
            return made.account_id

        started = time.perf_counter()
        used = await asyncio.gather(*(order(n) for n in range(orders)))
        wall = time.perf_counter() - started
        per_account = -(-orders // accounts)
        ideal = per_account * REPLIES_PER_DIALOGUE * latency
        spread = sorted(used.count(a) for a in set(used))
        print(f"  {orders} orders on {accounts} accounts, {latency * 1000:.0f} ms per BotFather reply")
        overhead_ms = (wall - ideal) / per_account * 1000
        print(
            f"  wall {wall:.2f} s  ideal {ideal:.2f} s  pool overhead {overhead_ms:.1f} ms per dialogue"
            f"  orders/account {spread}  overlapping dialogues {len(world.overlaps)}"
        )


def parser_speed() -> None:
    texts = [
        bf.ASK_NAME,
        bf.ASK_USERNAME,
        bf.TAKEN,
        bf.TOO_MANY_ATTEMPTS.format(seconds=8),
        bf.BOT_LIMIT,
        bf.DONE.format(username="x_bot", token=bf.fake_token()),
        bf.CHOOSE_TOKEN,
        bf.UNRECOGNISED,
    ]
    rounds = 20000
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            parse_reply(text)
    elapsed = time.perf_counter() - started
    print(f"  parse_reply: {rounds * len(texts) / elapsed:,.0f} replies/s")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    key = Fernet.generate_key().decode()
    print(f"creator pool bench ({args.database})")
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
            await migrate(url, key)
            await measure(url, key, args.orders, args.accounts, args.latency)
    else:
        name = f"meetmatt_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(args.admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = args.admin_url.rsplit("/", 1)[0] + "/" + name
        try:
            await migrate(url, key)
            await measure(url, key, args.orders, args.accounts, args.latency)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    parser_speed()


if __name__ == "__main__":
    asyncio.run(main())
