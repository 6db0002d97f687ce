"""/language: the customer picks the language the bot speaks (else their Telegram app's language)."""

from __future__ import annotations

from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards, texts
from bot.callbacks import LanguageCb
from bot.i18n import I18N, LANGUAGES
from bot.routing import RouterTemplate
from models import Customer
from services.orders.ordering import choose_locale

router = RouterTemplate("customer.language")


@router.message(Command("language"))
async def language_command(message: Message) -> None:
    await message.answer(texts.CHOOSE_LANGUAGE, reply_markup=keyboards.languages())


@router.callback_query(LanguageCb.filter())
async def language_chosen(callback: CallbackQuery, callback_data: LanguageCb, customer: Customer) -> None:
    if callback_data.code not in LANGUAGES:
        await callback.answer(texts.ORDER_EXPIRED_BUTTON, show_alert=True)
        return
    await choose_locale(customer, callback_data.code)
    with I18N.use_locale(callback_data.code):
        await callback.answer()
        if callback.message is not None:
            await callback.message.answer(texts.LANGUAGE_SET, reply_markup=keyboards.main_menu())
