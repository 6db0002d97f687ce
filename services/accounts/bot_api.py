"""A small Bot API client for the customers' own bots (not the Meet Matt bot): read their
updates while verifying ownership, greet the owner, drop webhooks, and managed-bot calls.

It uses aiogram's `Bot` as an HTTP client only, one per token, made by the function it is given
(`bot.factory.bots_for_tokens`: TELEGRAM_API_SERVER honoured there, the one place that makes Bots).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot


@dataclass(frozen=True)
class IncomingText:
    update_id: int
    user_id: int
    chat_id: int
    text: str


class BotApi:
    """Bot API calls made with a given bot token. `close()` releases the HTTP session."""

    def __init__(self, make_bot: Callable[[str], Bot]) -> None:
        self._make_bot = make_bot
        self._bots: dict[str, Bot] = {}

    def bot(self, token: str) -> Bot:
        if token not in self._bots:
            self._bots[token] = self._make_bot(token)
        return self._bots[token]

    async def read_texts(self, token: str, offset: int | None, wait_seconds: int = 0) -> list[IncomingText]:
        updates = await self.bot(token).get_updates(
            offset=offset, timeout=wait_seconds, allowed_updates=["message"]
        )
        texts = []
        for update in updates:
            message = update.message
            if message is not None and message.text and message.from_user is not None:
                texts.append(
                    IncomingText(update.update_id, message.from_user.id, message.chat.id, message.text)
                )
            else:
                texts.append(IncomingText(update.update_id, 0, 0, ""))
        return texts

    async def confirm_read(self, token: str, last_update_id: int) -> None:
        """Acknowledge updates up to `last_update_id`, so the agent's own polling starts clean."""
        await self.bot(token).get_updates(offset=last_update_id + 1, timeout=0)

    async def send_text(self, token: str, chat_id: int, text: str) -> None:
        await self.bot(token).send_message(chat_id, text)

    async def delete_webhook(self, token: str) -> None:
        await self.bot(token).delete_webhook(drop_pending_updates=False)

    async def managed_bot_token(self, manager_token: str, bot_user_id: int) -> str:
        return await self.bot(manager_token).get_managed_bot_token(user_id=bot_user_id)

    async def restrict_managed_bot(self, manager_token: str, bot_user_id: int) -> None:
        """Only the bot's owner (the customer who created it) may talk to it."""
        await self.bot(manager_token).set_managed_bot_access_settings(
            user_id=bot_user_id, is_access_restricted=True
        )

    async def close(self) -> None:
        """Close the HTTP sessions of the bots made here (a shared session closes once)."""
        for session in {id(b.session): b.session for b in self._bots.values()}.values():
            await session.close()
