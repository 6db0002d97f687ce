"""The twin doors of an admin action: the bot's admin buttons and `python main.py ...` on the command
line do the same thing to the same rows and leave the same audit record (only the actor differs:
the admin's Telegram id from the bot, none from the CLI). The CLI runs as an operator runs it, in a
subprocess on the test's own database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.callbacks import AccountCb, InstanceCb
from models import (
    AccountStatus,
    AdminAction,
    Customer,
    Instance,
    InstanceStatus,
    Job,
    Order,
    OrderStatus,
    TelegramAccount,
)
from services.accounts.pool import AccountPool
from services.jobs.kinds import INSTANCE_TERMINATE
from services.jobs.queue import JobQueue, utcnow
from tests.bot.harness import BotHarness, FakeUser
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.security.test_a_held_payment_is_settled_only_by_an_admin import held_order
from tests.standins.botfather import fake_string_session

ROOT = Path(__file__).resolve().parents[2]


async def cli(database_url: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def put_in_cooldown(account_id: int) -> None:
    await TelegramAccount.filter(id=account_id).update(
        status=AccountStatus.COOLING_DOWN,
        cooldown_until=utcnow() + timedelta(hours=2),
        last_error="FloodWait 7200s",
    )


async def usable_ids() -> set[int]:
    """The accounts the pool itself would pick for the next bot (its own selection rule)."""
    pool = AccountPool(lambda account: None, JobQueue("test"))
    return {a.id for a in await pool._candidates(set())}


async def audit_of(actor_id: int | None) -> tuple[str, str, str]:
    record = await AdminAction.get(admin_telegram_id=actor_id)
    return record.action, record.target, record.detail


async def test_enabling_an_account_in_cooldown_from_the_bot_and_from_the_cli_gives_the_same_usable_account_and_the_same_audit_record(  # noqa: E501
    harness: BotHarness, admin: FakeUser, db: str, tmp_path: Path
) -> None:
    account = await TelegramAccount.create(
        phone="+15551234567", api_id=1, api_hash="f" * 32, session=fake_string_session()
    )
    await put_in_cooldown(account.id)
    assert await usable_ids() == set()

    await harness.press(admin, AccountCb(action="enable", account_id=account.id).pack())
    by_bot = await TelegramAccount.get(id=account.id)
    assert await usable_ids() == {account.id}
    bot_record = await audit_of(admin.id)

    await put_in_cooldown(account.id)
    assert await usable_ids() == set()
    result = await cli(db, tmp_path, "accounts", "enable", str(account.id))
    assert result.returncode == 0, result.stderr
    by_cli = await TelegramAccount.get(id=account.id)
    assert await usable_ids() == {account.id}
    cli_record = await audit_of(None)

    assert (by_bot.status, by_bot.cooldown_until) == (by_cli.status, by_cli.cooldown_until)
    assert (by_cli.status, by_cli.cooldown_until) == (AccountStatus.ACTIVE, None)
    assert bot_record == cli_record
    assert bot_record[0] == "account_enable" and "cooldown cleared" in bot_record[2]


async def test_terminate_is_queued_once_whichever_door_and_however_often_and_audited_alike(
    harness: BotHarness, admin: FakeUser, db: str, tmp_path: Path
) -> None:
    customer = await Customer.create(telegram_id=600_100, full_name="Cy")
    instance = await Instance.create(
        customer=customer, status=InstanceStatus.ACTIVE, bot_username="cy_agent_bot", ec2_instance_id="i-0abc"
    )
    for _ in range(2):
        await harness.press(admin, InstanceCb(action="terminate_yes", instance_id=instance.id).pack())
    for _ in range(2):
        result = await cli(db, tmp_path, "instances", "terminate", str(instance.id))
        assert result.returncode == 0, result.stderr

    jobs = await Job.filter(kind=INSTANCE_TERMINATE)
    assert len(jobs) == 1 and jobs[0].payload["instance_id"] == instance.id
    records = await AdminAction.all().order_by("id")
    assert [r.admin_telegram_id for r in records] == [admin.id, admin.id, None, None]
    assert {(r.action, r.target) for r in records} == {(INSTANCE_TERMINATE, f"instance #{instance.id}")}
    assert all(f"job #{jobs[0].id}" in r.detail for r in records)
    assert [("already queued" in r.detail) for r in records] == [False, True, True, True]


async def test_approving_a_held_order_from_either_door_leaves_the_same_audit_record(
    harness: BotHarness, admin: FakeUser, db: str, tmp_path: Path
) -> None:
    by_bot = await held_order(600_200)
    await Order.filter(id=by_bot.id).update(stripe_session_id="cs_test_held_2", stripe_payment_intent="pi_2")
    by_cli = await held_order(600_201)
    await harness.send(admin, f"/approve {by_bot.id}")
    result = await cli(db, tmp_path, "orders", "approve", str(by_cli.id))
    assert result.returncode == 0, result.stderr

    assert {o.status for o in await Order.filter(id__in=[by_bot.id, by_cli.id])} == {OrderStatus.PAID}
    records = await AdminAction.all().order_by("id")
    assert [(r.admin_telegram_id, r.action, r.target, r.detail) for r in records] == [
        (admin.id, "approve_order", f"order #{by_bot.id}", ""),
        (None, "approve_order", f"order #{by_cli.id}", ""),
    ]
