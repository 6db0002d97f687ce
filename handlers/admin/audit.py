"""Record every admin action and echo it to the admin chat."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import User

from bot import texts
from config import Settings
from models import AdminAction

log = logging.getLogger(__name__)


async def record_action(
    bot: Bot, settings: Settings, admin: User | None, action: str, target: str, detail: str = ""
) -> AdminAction:
    row = await AdminAction.create(
        admin_telegram_id=admin.id if admin else None, action=action, target=target[:128], detail=detail
    )
    log.info("admin action action=%s target=%s admin=%s", action, target, row.admin_telegram_id)
    chat_id = settings.admin_telegram_chat_id
    if chat_id is not None:
        who = f"@{admin.username}" if admin and admin.username else str(row.admin_telegram_id or "cli")
        try:
            await bot.send_message(chat_id, texts.admin_action_echo(row, who))
        except Exception as exc:  # the action itself is done and recorded; the echo is best effort
            log.warning("admin action echo failed action=%s error=%s", action, type(exc).__name__)
    return row
