"""Last router: anything no other handler took gets a short pointer to /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot import texts


async def unknown_message(message: Message) -> None:
    if message.chat.type == "private":
        await message.answer(texts.UNKNOWN)


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(texts.ORDER_EXPIRED_BUTTON, show_alert=False)


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="customer.fallback")
    router.message.register(unknown_message)
    router.callback_query.register(stale_button)
    return router
