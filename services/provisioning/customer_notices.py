"""The NEW messages of an order: Telegram notifies on a new message, never on an edit.

The one progress message (services/provisioning/progress.py) is edited in place; these are sent beside it
at the moments the customer must act or has something to use:

- `act`: the ownership link exists: one button, "Open @bot and press Start";
- `live`: the agent answers now: one button, "Open your agent";
- link reminders: the link is still unused 1 hour after it was sent, and again 2 hours before it
  expires; each reminder carries the button again.

Each is queued as a `notify_customer` job under a key, so a resumed saga or a second worker never
sends one twice. `link_reminder_due` is the pure rule; `remind_unused_links` is the worker's sweep
and takes `now`, so tests move the clock instead of waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models import Instance, Job, Verification
from services.jobs.queue import JobQueue, utcnow
from services.notifications.customer_text import N_, Text
from services.notifications.customers import queue_customer_message
from services.provisioning.verification import deep_link, released

FIRST_REMINDER_AFTER = timedelta(hours=1)
FINAL_REMINDER_BEFORE = timedelta(hours=2)

FIRST = "first"
FINAL = "final"


def _bot(bot_username: str | None) -> Text:
    return Text(N_("@{username}"), {"username": bot_username}) if bot_username else Text(N_("your new bot"))


def act_button(bot_username: str | None, link: str) -> tuple[Text, str]:
    label = (
        Text(N_("Open @{username} and press Start"), {"username": bot_username})
        if bot_username
        else Text(N_("Open your bot and press Start"))
    )
    return label, link


def act_text(bot_username: str | None) -> Text:
    return Text(
        N_(
            "👉 <b>Your turn:</b> open {bot} with the button below and press <b>Start</b>. That "
            "proves this Telegram account owns it; then we switch your agent on."
        ),
        {"bot": _bot(bot_username)},
    )


def live_text(bot_username: str | None) -> Text:
    return Text(
        N_(
            "🎉 <b>Your agent {bot} is live.</b> It answers only you. Manage it (restart, persona, "
            "renew) with /mybots."
        ),
        {"bot": _bot(bot_username)},
    )


def live_button(bot_username: str) -> tuple[Text, str]:
    return Text(N_("Open your agent")), f"https://t.me/{bot_username}"


def reminder_text(bot_username: str | None, stage: str, expires_at: datetime, now: datetime) -> Text:
    left = max(0, int((expires_at - now).total_seconds() // 60))
    hours, minutes = divmod(left, 60)
    remaining = (
        Text(N_("{hours} h {minutes} min"), {"hours": hours, "minutes": f"{minutes:02d}"})
        if hours
        else Text(N_("{minutes} min"), {"minutes": minutes})
    )
    msgid = (
        N_(
            "⏰ <b>Last reminder:</b> your agent is paid and waiting for you. Open {bot} with the button "
            "below and press <b>Start</b>. The link expires in {remaining}; after that we stop and "
            "release the server."
        )
        if stage == FINAL
        else N_(
            "⏰ <b>Reminder:</b> your agent is paid and waiting for you. Open {bot} with the button "
            "below and press <b>Start</b>. The link expires in {remaining}; after that we stop and "
            "release the server."
        )
    )
    return Text(msgid, {"bot": _bot(bot_username), "remaining": remaining})


def link_reminder_due(created_at: datetime, expires_at: datetime, now: datetime) -> str | None:
    """Which reminder an unused link is due at `now`: FINAL within 2 h of expiry, FIRST from 1 h
    after it was sent, None before that or once it has expired. A link whose life is shorter than
    both windows gets only the FINAL one (the later stage wins)."""
    if now >= expires_at:
        return None
    if now >= expires_at - FINAL_REMINDER_BEFORE:
        return FINAL
    if now >= created_at + FIRST_REMINDER_AFTER:
        return FIRST
    return None


async def notify_act(
    queue: JobQueue, order_id: int, chat_id: int, bot_username: str | None, link: str
) -> None:
    await queue_customer_message(
        queue,
        chat_id,
        act_text(bot_username),
        buttons=[act_button(bot_username, link)],
        key=f"act:{order_id}",
    )


async def notify_live(queue: JobQueue, order_id: int, chat_id: int, bot_username: str | None) -> None:
    buttons = [live_button(bot_username)] if bot_username else []
    await queue_customer_message(
        queue, chat_id, live_text(bot_username), buttons=buttons, key=f"live:{order_id}"
    )


async def remind_unused_links(queue: JobQueue, now: datetime | None = None) -> int:
    """The sweep: queue the due reminder of every unused, unexpired ownership link. Returns how
    many reminders were queued now (a key already used queues nothing)."""
    now = now or utcnow()
    queued = 0
    open_links = await Verification.filter(verified_at=None, expires_at__gt=now).select_related(
        "instance__order__customer"
    )
    for verification in open_links:
        stage = link_reminder_due(verification.created_at, verification.expires_at, now)
        instance: Instance = verification.instance
        if stage is None or not instance.bot_username or instance.order is None:
            continue
        if await released(verification):
            continue
        key = f"link_reminder:{verification.id}:{stage}"
        if await Job.filter(key=key).exists():
            continue
        link = deep_link(instance.bot_username, verification.code)
        await queue_customer_message(
            queue,
            instance.order.customer.telegram_id,
            reminder_text(instance.bot_username, stage, verification.expires_at, now),
            buttons=[act_button(instance.bot_username, link)],
            key=key,
        )
        queued += 1
    return queued
