"""/support (a question posted in the admin chat with the customer's orders) and /terms."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.callbacks import SupportCb
from bot.filters import NOT_COMMAND
from bot.states import SupportForm
from config import Settings
from models import Customer
from services.notifications import support

log = logging.getLogger(__name__)


async def _post_question(
    message: Message,
    bot: Bot,
    settings: Settings,
    customer: Customer,
    question: str,
    reference: str | None = None,
) -> None:
    chat_id = settings.admin_telegram_chat_id
    if chat_id is None:
        log.warning(
            "support question dropped: ADMIN_TELEGRAM_CHAT_ID is not set customer=%s", customer.telegram_id
        )
        await message.answer(texts.SUPPORT_UNAVAILABLE)
        return
    user = message.from_user
    text = texts.support_question(
        user.full_name if user else "",
        customer.telegram_id,
        user.username if user else None,
        question,
        await support.recent_orders(customer),
        reference,
    )
    try:
        posted = await bot.send_message(chat_id, text)
    except TelegramAPIError as exc:
        log.warning(
            "support question could not be posted customer=%s error=%s",
            customer.telegram_id,
            type(exc).__name__,
        )
        await message.answer(texts.SUPPORT_UNAVAILABLE)
        return
    await support.record_question(customer, chat_id, posted.message_id, question)
    await message.answer(texts.SUPPORT_SENT)


async def support_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    bot: Bot,
    settings: Settings,
    customer: Customer,
) -> None:
    question = support.clean_question(command.args)
    if question:
        await state.clear()
        await _post_question(message, bot, settings, customer, question)
        return
    await state.set_state(SupportForm.question)
    await message.answer(texts.ASK_SUPPORT)


async def support_button(callback: CallbackQuery, callback_data: SupportCb, state: FSMContext) -> None:
    await callback.answer()
    await state.set_state(SupportForm.question)
    await state.update_data(support_reference=callback_data.reference[:16])
    if callback.message is not None:
        await callback.message.answer(texts.ASK_SUPPORT)


async def support_question(
    message: Message, state: FSMContext, bot: Bot, settings: Settings, customer: Customer
) -> None:
    question = support.clean_question(message.text or message.caption)
    if not question:
        await message.answer(texts.NEED_TEXT)
        return
    reference = (await state.get_data()).get("support_reference")
    await state.clear()
    await _post_question(message, bot, settings, customer, question, reference)


async def terms(message: Message, settings: Settings) -> None:
    url, text = await support.load_terms(settings.terms_source)
    await message.answer(texts.terms(text, url, settings.refund_on_failure))


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.support")
    router.message.register(support_command, Command("support"))
    router.callback_query.register(support_button, SupportCb.filter())
    router.message.register(support_question, SupportForm.question, NOT_COMMAND)
    router.message.register(terms, Command("terms"))
    return router
