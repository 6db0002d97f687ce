"""Drive the real Dispatcher with `feed_update`, the way aiogram's own tests do.

`RecordingSession` is a Bot session that records every Bot API call and answers it the way Telegram
would (a sent message gets an id, edits and answers return True). `BotHarness` builds updates from
a simulated user and returns the calls each update caused.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import GetMe, TelegramMethod
from aiogram.types import Chat, Message, Update, User

from bot.factory import create_bot


def runtime_token() -> str:
    """A bot-token-shaped value made at run time (never a real token in the repo)."""
    return f"{secrets.randbelow(10**9) + 10**8}:{secrets.token_urlsafe(27)}"


@dataclass
class Call:
    method: TelegramMethod[Any]

    @property
    def name(self) -> str:
        return type(self.method).__name__

    def __getattr__(self, item: str) -> Any:
        return getattr(self.method, item)

    @property
    def markup_texts(self) -> list[str]:
        markup = getattr(self.method, "reply_markup", None)
        if markup is None:
            return []
        rows = getattr(markup, "inline_keyboard", None) or getattr(markup, "keyboard", None) or []
        return [button.text for row in rows for button in row]

    def button(self, text_part: str) -> Any:
        markup = getattr(self.method, "reply_markup", None)
        rows = getattr(markup, "inline_keyboard", None) or getattr(markup, "keyboard", None) or []
        for row in rows:
            for button in row:
                if text_part in button.text:
                    return button
        raise AssertionError(f"no button with {text_part!r} in {self.markup_texts}")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []
        self.failures: dict[str, list[Exception]] = {}
        self._ids = itertools.count(1000)

    def fail_next(self, method_name: str, exc: Exception) -> None:
        self.failures.setdefault(method_name, []).append(exc)

    async def close(self) -> None:
        return None

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.calls.append(Call(method))
        name = type(method).__name__
        if self.failures.get(name):
            raise self.failures[name].pop(0)
        if isinstance(method, GetMe):
            return User(id=bot.id, is_bot=True, first_name="Matt", username="MeetMattTestBot")
        returning = getattr(method, "__returning__", None)
        if returning is Message or name.startswith("Send"):
            chat_id = int(getattr(method, "chat_id", 0))
            return Message(
                message_id=next(self._ids),
                date=datetime.now(UTC),
                chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
                text=getattr(method, "text", None),
            )
        return True

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""


@dataclass
class FakeUser:
    id: int
    first_name: str = "Alice"
    username: str | None = "alice"
    language_code: str | None = "en"

    def as_user(self) -> User:
        return User(
            id=self.id,
            is_bot=False,
            first_name=self.first_name,
            username=self.username,
            language_code=self.language_code,
        )


@dataclass
class BotHarness:
    dp: Dispatcher
    bot: Bot
    session: RecordingSession
    _update_ids: Any = field(default_factory=lambda: itertools.count(1))
    _message_ids: Any = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def build(cls, settings: Any, dp: Dispatcher) -> BotHarness:
        session = RecordingSession()
        return cls(dp=dp, bot=create_bot(settings, session=session), session=session)

    async def feed(self, update: Update) -> list[Call]:
        start = len(self.session.calls)
        await self.dp.feed_update(self.bot, update)
        return self.session.calls[start:]

    def message(
        self, user: FakeUser, text: str | None = None, *, chat_id: int | None = None, **extra: Any
    ) -> Update:
        chat = Chat(id=chat_id or user.id, type="private" if (chat_id or user.id) > 0 else "supergroup")
        entities = None
        if text and text.startswith("/"):
            from aiogram.types import MessageEntity

            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        message = Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=chat,
            from_user=user.as_user(),
            text=text,
            entities=entities,
            **extra,
        )
        return Update(update_id=next(self._update_ids), message=message)

    async def send(self, user: FakeUser, text: str | None = None, **extra: Any) -> list[Call]:
        return await self.feed(self.message(user, text, **extra))

    async def press(
        self, user: FakeUser, data: str, *, chat_id: int | None = None, message_id: int = 1
    ) -> list[Call]:
        from aiogram.types import CallbackQuery

        chat = Chat(id=chat_id or user.id, type="private" if (chat_id or user.id) > 0 else "supergroup")
        message = Message(message_id=message_id, date=datetime.now(UTC), chat=chat, text="…")
        query = CallbackQuery(
            id=str(next(self._update_ids)),
            from_user=user.as_user(),
            chat_instance="ci",
            message=message,
            data=data,
        )
        return await self.feed(Update(update_id=next(self._update_ids), callback_query=query))


def texts_of(calls: list[Call]) -> list[str]:
    return [c.method.text for c in calls if hasattr(c.method, "text") and c.method.text]


def joined(calls: list[Call]) -> str:
    return "\n".join(texts_of(calls))


def last_sent(calls: list[Call]) -> Call:
    sent = [c for c in calls if c.name in ("SendMessage", "EditMessageText")]
    assert sent, f"no message sent; calls: {[c.name for c in calls]}"
    return sent[-1]


def button_data(call: Call, text_part: str) -> str:
    return call.button(text_part).callback_data
