"""The aiogram implementation of `services.notifications.customers.Messenger`, used by the worker."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bot.i18n import I18N, pick_locale
from bot.keyboards import url_buttons
from models import Customer
from services.model_gateway.quota import START_LINK
from services.notifications.customer_text import Text
from services.notifications.customers import Buttons
from services.provisioning.progress import MessageNotEditable

log = logging.getLogger(__name__)

_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid", "chat not found")


async def locale_for_chat(chat_id: int) -> str:
    """The language of the customer this chat is: chosen with /language, else their app's."""
    customer = await Customer.get_or_none(telegram_id=chat_id)
    return pick_locale(customer.locale if customer else None, customer.language if customer else None)


async def rendered(
    chat_id: int, text: str | Text, buttons: Buttons | None
) -> tuple[str, list[tuple[str, str]] | None]:
    """A service's message in the customer's language (a plain str is already rendered)."""
    if not isinstance(text, Text) and not any(isinstance(label, Text) for label, _ in buttons or []):
        return text, buttons  # type: ignore[return-value]
    with I18N.use_locale(await locale_for_chat(chat_id)):

        def render(value: str | Text, escape: bool = True) -> str:
            return value.render(I18N.gettext, escape=escape) if isinstance(value, Text) else value

        # a button label is plain text on Telegram: not escaped
        return render(text), [(render(label, False), target) for label, target in buttons or []] or None


class AiogramMessenger:
    """Send and edit HTML messages with URL buttons through a `Bot`, in the customer's language."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str | Text, buttons: Buttons | None = None) -> int:
        html, markup = await rendered(chat_id, text, buttons)
        message = await self.bot.send_message(
            chat_id, html, reply_markup=url_buttons(await self._links(markup))
        )
        return message.message_id

    async def render(self, chat_id: int, text: str | Text) -> str:
        """`text` as HTML in the customer's language, for a message another bot sends."""
        return (await rendered(chat_id, text, None))[0]

    async def _links(self, buttons: list[tuple[str, str]] | None) -> list[tuple[str, str]] | None:
        """`start:<payload>` (`quota.START_LINK`) opens this bot with /start <payload>."""
        if not buttons or not any(url.startswith(START_LINK) for _, url in buttons):
            return buttons
        me = await self.bot.me()
        return [
            (
                label,
                f"https://t.me/{me.username}?start={url[len(START_LINK) :]}"
                if url.startswith(START_LINK)
                else url,
            )
            for label, url in buttons
        ]

    async def edit(
        self, chat_id: int, message_id: int, text: str | Text, buttons: Buttons | None = None
    ) -> None:
        html, markup = await rendered(chat_id, text, buttons)
        try:
            await self.bot.edit_message_text(
                text=html, chat_id=chat_id, message_id=message_id, reply_markup=url_buttons(markup)
            )
        except TelegramBadRequest as exc:
            reason = exc.message.lower()
            if "message is not modified" in reason:
                return  # the same step reported twice: nothing to change
            if any(marker in reason for marker in _GONE):
                raise MessageNotEditable(exc.message) from None
            raise
