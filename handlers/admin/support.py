"""An admin's reply to a support question in the admin chat goes back to the customer."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import Message

from bot import texts
from bot.i18n import I18N
from bot.messenger import locale_for_chat
from config import Settings
from handlers.admin.audit import record_action
from models import SupportMessage
from services.notifications import support

log = logging.getLogger(__name__)


class RepliesToSupportQuestion(Filter):
    """A message that replies to a support question this bot posted; passes the question on as `ticket`."""

    async def __call__(self, message: Message) -> bool | dict[str, Any]:
        replied = message.reply_to_message
        if replied is None or not (message.text or message.caption):
            return False
        ticket = await support.question_replied_to(message.chat.id, replied.message_id)
        return {"ticket": ticket} if ticket is not None else False


async def answer_customer(message: Message, ticket: SupportMessage, bot: Bot, settings: Settings) -> None:
    answer = support.clean_question(message.text or message.caption)
    with I18N.use_locale(await locale_for_chat(ticket.customer_telegram_id)):  # not the admin's language
        text = texts.SUPPORT_ANSWER.format(answer=texts.esc(answer))
    try:
        await bot.send_message(ticket.customer_telegram_id, text)
    except TelegramAPIError as exc:
        log.warning("support answer not delivered ticket=%s error=%s", ticket.id, type(exc).__name__)
        await message.reply(texts.ADMIN_SUPPORT_NOT_DELIVERED.format(reason=texts.esc(exc.message)))
        return
    await support.mark_answered(ticket)
    await record_action(
        bot,
        settings,
        message.from_user,
        "support_answer",
        f"support:{ticket.id}",
        f"customer {ticket.customer_telegram_id}",
    )
    await message.reply(texts.ADMIN_SUPPORT_DELIVERED)


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.support")
    router.message.register(answer_customer, RepliesToSupportQuestion())
    return router
