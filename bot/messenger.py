"""The aiogram implementation of `services.notifications.Messenger`, used by the worker."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.keyboards import url_buttons
from services.model_quota import START_LINK
from services.progress import MessageNotEditable

log = logging.getLogger(__name__)

_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid", "chat not found")


class AiogramMessenger:
    """Send and edit HTML messages with URL buttons through a `Bot`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, buttons: list[tuple[str, str]] | None = None) -> int:
        message = await self.bot.send_message(chat_id, text,
                                               reply_markup=url_buttons(await self._links(buttons)))
        return message.message_id

    async def _links(self, buttons: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        """`start:<payload>` (services.model_quota.START_LINK) opens this bot with /start <payload>."""
        if not buttons or not any(url.startswith(START_LINK) for _, url in buttons):
            return buttons
        me = await self.bot.me()
        return [(label, f"https://t.me/{me.username}?start={url[len(START_LINK):]}"
                 if url.startswith(START_LINK) else url) for label, url in buttons]

    async def edit(
        self, chat_id: int, message_id: int, text: str, buttons: list[tuple[str, str]] | None = None
    ) -> None:
        try:
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=url_buttons(buttons)
            )
        except TelegramBadRequest as exc:
            reason = exc.message.lower()
            if "message is not modified" in reason:
                return  # the same step reported twice: nothing to change
            if any(marker in reason for marker in _GONE):
                raise MessageNotEditable(exc.message) from None
            raise
