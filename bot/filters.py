"""Who is an admin: a user in ADMIN_IDS, or anyone speaking in the admin chat (ADMIN_TELEGRAM_CHAT_ID)."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message, TelegramObject


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
