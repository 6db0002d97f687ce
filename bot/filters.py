"""The bot's shared filters: who is an admin (a user in ADMIN_IDS, or anyone speaking in the admin chat,
ADMIN_TELEGRAM_CHAT_ID) and which messages are answers to a question rather than commands."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

# A message that is not a /command. A message without text (a photo with a caption, a sticker) passes
# too (`~` of None is True), so the handler itself says what it needs; `startswith(...) == False` is
# None for those and silently dropped them to the fallback.
NOT_COMMAND = ~F.text.startswith("/")


class IsAdmin(Filter):
    def __init__(self, admin_ids: frozenset[int], admin_chat_id: int | None) -> None:
        self.admin_ids = admin_ids
        self.admin_chat_id = admin_chat_id

    async def __call__(self, event: TelegramObject) -> bool:
        if isinstance(event, Message):
            user, chat = event.from_user, event.chat
        elif isinstance(event, CallbackQuery):
            user, chat = event.from_user, event.message.chat if event.message else None
        else:
            return False
        if user is not None and user.id in self.admin_ids:
            return True
        return self.admin_chat_id is not None and chat is not None and chat.id == self.admin_chat_id
