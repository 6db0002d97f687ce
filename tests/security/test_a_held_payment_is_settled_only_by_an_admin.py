"""Attack: a customer whose underpaid order was held tries to approve it themselves; and the two
honest ways out (approve, refund) work from the bot and from the CLI, each exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from models import AdminAction, Customer, Job, Order, OrderStatus
from services.jobs.kinds import PROVISION, REFUND_ORDER
from services.jobs.queue import utcnow
from tests.bot.harness import BotHarness, FakeUser, last_sent

ROOT = Path(__file__).resolve().parents[2]


async def held_order(telegram_id: int) -> Order:
    customer, _ = await Customer.get_or_create(telegram_id=telegram_id)
    return await Order.create(
        customer=customer,
        package="starter",
        bot_name="Held",
        amount=100,
        status=OrderStatus.NEEDS_REVIEW,
        stripe_session_id="cs_test_held",
        stripe_payment_intent="pi_held",
        paid_at=utcnow(),
    )


async def test_the_customer_cannot_approve_their_own_held_order(harness: BotHarness, alice: FakeUser):
    order = await held_order(alice.id)
    await harness.send(alice, f"/approve {order.id}")
    await harness.send(alice, f"/refund {order.id}")
    assert (await Order.get(id=order.id)).status == OrderStatus.NEEDS_REVIEW
    assert await Job.all().count() == 0 and await AdminAction.all().count() == 0


async def test_an_admin_approves_once_from_the_bot(harness: BotHarness, admin: FakeUser):
    order = await held_order(600_500)
    calls = await harness.send(admin, f"/approve {order.id}")
    assert f"Order #{order.id} approved" in last_sent(calls).text
    again = await harness.send(admin, f"/approve {order.id}")
    assert "not needs_review" in last_sent(again).text
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    [job] = await Job.filter(kind=PROVISION)
    assert job.key == f"provision:order:{order.id}"
    assert await AdminAction.filter(action="approve_order").count() == 1


async def test_an_admin_refund_closes_the_held_order_for_good(harness: BotHarness, admin: FakeUser):
    order = await held_order(600_501)
    calls = await harness.send(admin, f"/refund {order.id}")
    assert f"Refund of order #{order.id} queued" in last_sent(calls).text
    refused = await harness.send(admin, f"/approve {order.id}")
    assert "nothing to approve" in last_sent(refused).text
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    assert await Job.filter(kind=REFUND_ORDER).count() == 1 and await Job.filter(kind=PROVISION).count() == 0


def test_the_cli_approves_a_held_order_and_refuses_a_second_time(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite://{tmp_path / 'cli.sqlite3'}",
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    subprocess.run(
        [sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60
    )
    seed = (
        "import asyncio\n"
        "from services.infra.db import init_db, close_db\n"
        "from tests.security.test_a_held_payment_is_settled_only_by_an_admin import held_order\n"
        "async def main():\n"
        f"    await init_db({env['DATABASE_URL']!r}, {env['ENCRYPTION_KEY']!r})\n"
        "    await held_order(5)\n"
        "    await close_db()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=ROOT, env=env, check=True, timeout=60)

    def approve() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "main.py", "orders", "approve", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first, again = approve(), approve()
    assert first.returncode == 0 and "approved" in first.stdout, first.stderr
    assert again.returncode == 1 and "is paid, not needs_review" in again.stderr
    jobs = subprocess.run(
        [sys.executable, "main.py", "jobs", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert jobs.stdout.count('"kind": "provision"') == 1
