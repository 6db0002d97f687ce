"""The bot's side of the audit trail: who the admin is, and the echo of each record to the admin chat.
The record itself is written by the action (services/operations), the same from the bot and the CLI."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import User

from bot import texts
from config import Settings
from models import AdminAction
from services.operations.audit import Actor, record

log = logging.getLogger(__name__)


def actor_of(user: User | None) -> Actor:
    if user is None:
        return Actor(None, "unknown")
    return Actor(user.id, f"@{user.username}" if user.username else str(user.id))


async def echo(bot: Bot, settings: Settings, row: AdminAction, admin: User | None) -> None:
    """Tell the admin chat what was done; best effort, the action itself is done and recorded."""
    chat_id = settings.admin_telegram_chat_id
    if chat_id is None:
        return
    who = actor_of(admin).name if admin else str(row.admin_telegram_id or "cli")
    try:
        await bot.send_message(chat_id, texts.admin_action_echo(row, who))
    except Exception as exc:
        log.warning("admin action echo failed action=%s error=%s", row.action, type(exc).__name__)


async def record_action(
    bot: Bot, settings: Settings, admin: User | None, action: str, target: str, detail: str = ""
) -> AdminAction:
    """Record a bot-only admin action (one no other door offers) and echo it."""
    row = await record(actor_of(admin), action, target, detail)
    await echo(bot, settings, row, admin)
    return row
