"""The NEW messages of an order: the pure reminder rule, and the sweep with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import Customer, Instance, InstanceStatus, Job, Order, OrderStatus, Verification
from services.jobs.queue import JobQueue
from services.notifications.customer_text import decode, plain
from services.provisioning.customer_notices import (
    FINAL,
    FIRST,
    link_reminder_due,
    remind_unused_links,
    reminder_text,
)

SENT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EXPIRES = SENT + timedelta(hours=24)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (SENT, None),
        (SENT + timedelta(minutes=59), None),
        (SENT + timedelta(hours=1), FIRST),
        (SENT + timedelta(hours=21, minutes=59), FIRST),
        (SENT + timedelta(hours=22), FINAL),
        (EXPIRES - timedelta(seconds=1), FINAL),
        (EXPIRES, None),
        (EXPIRES + timedelta(hours=1), None),
    ],
)
def test_an_unused_link_is_reminded_after_one_hour_and_two_hours_before_it_expires(
    now: datetime, due: str | None
) -> None:
    assert link_reminder_due(SENT, EXPIRES, now) == due


def test_a_link_shorter_than_both_windows_gets_only_the_final_reminder() -> None:
    assert link_reminder_due(SENT, SENT + timedelta(minutes=90), SENT + timedelta(hours=1)) == FINAL


def test_the_reminder_escapes_the_bot_name_and_says_how_long_is_left() -> None:
    text = reminder_text("<b>x", FINAL, EXPIRES, EXPIRES - timedelta(minutes=95)).english()
    assert "@&lt;b&gt;x" in text and "1 h 35 min" in text and "Last reminder" in text


async def _open_link(
    telegram_id: int, username: str, *, status: OrderStatus = OrderStatus.AWAITING_VERIFICATION
) -> Verification:
    customer = await Customer.create(telegram_id=telegram_id, full_name="Pat")
    order = await Order.create(
        customer=customer, package="starter", bot_name="Pat's", bot_username=username, status=status
    )
    instance = await Instance.create(
        order=order, customer=customer, bot_username=username, status=InstanceStatus.READY
    )
    verification = await Verification.create(instance=instance, code=f"code{telegram_id}", expires_at=EXPIRES)
    await Verification.filter(id=verification.id).update(created_at=SENT)
    return await Verification.get(id=verification.id)


async def _reminders() -> list[Job]:
    return await Job.filter(kind="notify_customer", key__startswith="link_reminder:").order_by("id")


async def test_the_sweep_reminds_each_unused_link_twice_with_its_button_as_the_clock_moves(db: str) -> None:
    verification = await _open_link(700_001, "pat_agent_bot")
    queue = JobQueue("test", 30)

    assert await remind_unused_links(queue, now=SENT + timedelta(minutes=30)) == 0
    assert await remind_unused_links(queue, now=SENT + timedelta(hours=1, minutes=1)) == 1
    assert await remind_unused_links(queue, now=SENT + timedelta(hours=5)) == 0  # not twice
    assert await remind_unused_links(queue, now=SENT + timedelta(hours=22, minutes=5)) == 1
    assert await remind_unused_links(queue, now=SENT + timedelta(hours=23)) == 0
    assert await remind_unused_links(queue, now=EXPIRES + timedelta(minutes=1)) == 0

    first, final = await _reminders()
    link = f"https://t.me/pat_agent_bot?start={verification.code}"
    for job in (first, final):
        assert job.payload["chat_id"] == 700_001
        [(label, target)] = job.payload["buttons"]
        assert (plain(decode(label)), target) == ("Open @pat_agent_bot and press Start", link)
    assert "Reminder:" in plain(decode(first.payload["text"]))
    final_text = plain(decode(final.payload["text"]))
    assert "Last reminder" in final_text and "1 h 55 min" in final_text


async def test_a_used_link_or_a_released_order_is_never_reminded(db: str) -> None:
    used = await _open_link(700_002, "used_agent_bot")
    await Verification.filter(id=used.id).update(verified_at=SENT + timedelta(minutes=5), telegram_user_id=1)
    await _open_link(700_003, "refunded_agent_bot", status=OrderStatus.REFUNDED)

    assert await remind_unused_links(JobQueue("test", 30), now=SENT + timedelta(hours=2)) == 0
    assert await _reminders() == []
