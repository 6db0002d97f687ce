"""/language: the customer picks the language the bot speaks (else their Telegram app's language)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import LanguageCb
from bot.i18n import I18N, LANGUAGES
from models import Customer
from services.orders.ordering import choose_locale


async def language_command(message: Message) -> None:
    await message.answer(texts.CHOOSE_LANGUAGE, reply_markup=keyboards.languages())


async def language_chosen(callback: CallbackQuery, callback_data: LanguageCb, customer: Customer) -> None:
    if callback_data.code not in LANGUAGES:
        await callback.answer(texts.ORDER_EXPIRED_BUTTON, show_alert=True)
        return
    await choose_locale(customer, callback_data.code)
    with I18N.use_locale(callback_data.code):
        await callback.answer()
        if callback.message is not None:
            await callback.message.answer(texts.LANGUAGE_SET, reply_markup=keyboards.main_menu())


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.language")
    router.message.register(language_command, Command("language"))
    router.callback_query.register(language_chosen, LanguageCb.filter())
    return router
