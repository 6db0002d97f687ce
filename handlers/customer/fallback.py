"""Last router: anything no other handler took gets a short pointer to /help."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message

from bot import texts
from bot.routing import RouterTemplate

router = RouterTemplate("customer.fallback")


@router.message()
async def unknown_message(message: Message) -> None:
    if message.chat.type == "private":
        await message.answer(texts.UNKNOWN)


@router.callback_query()
async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(texts.ORDER_EXPIRED_BUTTON, show_alert=False)
