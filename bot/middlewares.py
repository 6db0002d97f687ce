"""Outer middlewares on every update, in this order: error boundary, anti-spam cooldown, customer upsert."""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User

from bot import keyboards, texts
from bot.i18n import I18N, locale_of
from models import Customer
from services.orders.ordering import upsert_customer

log = logging.getLogger("bot")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _user_facing(update: Update) -> Message | CallbackQuery | None:
    return update.message or update.callback_query or update.edited_message


class ErrorBoundaryMiddleware(BaseMiddleware):
    """Any exception in a handler: log it with a short reference and tell the user that reference."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except Exception:
            reference = uuid.uuid4().hex[:10]
            update_id = event.update_id if isinstance(event, Update) else None
            log.exception(
                "handler failed reference=%s update_id=%s",
                reference,
                update_id,
                extra={"reference": reference},
            )
            if isinstance(event, Update):
                with I18N.use_locale(locale_of(data)):
                    await self._tell_user(event, reference)
            return None

    @staticmethod
    async def _tell_user(update: Update, reference: str) -> None:
        target = _user_facing(update)
        text = texts.ERROR.format(ref=reference)
        try:
            if isinstance(target, CallbackQuery):
                await target.answer()
                if target.message is not None:
                    await target.bot.send_message(
                        target.message.chat.id, text, reply_markup=keyboards.support(reference)
                    )
            elif isinstance(target, Message):
                await target.answer(text, reply_markup=keyboards.support(reference))
        except Exception:  # the user may have blocked the bot; the log line above is what matters
            log.warning("could not tell the user about reference=%s", reference)


class CooldownMiddleware(BaseMiddleware):
    """One update per user per `seconds`. Extra updates are dropped with one polite answer."""

    def __init__(self, seconds: float, max_users: int = 100_000) -> None:
        self.seconds = seconds
        self.max_users = max_users
        self._last: OrderedDict[int, tuple[float, bool]] = OrderedDict()  # user -> (time, warned)

    def hit(self, user_id: int, now: float | None = None) -> tuple[bool, bool]:
        """(allowed, warn): record an update from the user; warn only once per window."""
        now = time.monotonic() if now is None else now
        last = self._last.get(user_id)
        if last is not None and now - last[0] < self.seconds:
            warned = last[1]
            self._last[user_id] = (last[0], True)
            return False, not warned
        self._last[user_id] = (now, False)
        self._last.move_to_end(user_id)
        while len(self._last) > self.max_users:
            self._last.popitem(last=False)
        return True, False

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if self.seconds <= 0 or user is None or not isinstance(event, Update):
            return await handler(event, data)
        if event.managed_bot is not None or (event.message and event.message.managed_bot_created):
            return await handler(event, data)  # Telegram's own service updates are never spam
        allowed, warn = self.hit(user.id)
        if allowed:
            return await handler(event, data)
        with I18N.use_locale(locale_of(data)):  # the customer is not loaded yet: the app's language
            if event.callback_query is not None:
                await event.callback_query.answer(texts.THROTTLED_SHORT)
            elif warn and event.message is not None:
                await event.message.answer(texts.THROTTLED)
        return None


class CustomerMiddleware(BaseMiddleware):
    """Upsert the `Customer` for the user behind every update and pass it on as `customer`.

    A small in-process cache skips the write when nothing about the user changed.
    """

    def __init__(self, cache_size: int = 50_000) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[int, tuple[tuple[Any, ...], Customer]] = OrderedDict()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:
            return await handler(event, data)
        fingerprint = (user.username, user.full_name[:256], user.language_code)
        cached = self._cache.get(user.id)
        if cached is not None and cached[0] == fingerprint:
            customer = cached[1]
            self._cache.move_to_end(user.id)
        else:
            customer = await upsert_customer(user.id, user.username, user.full_name, user.language_code)
            self._cache[user.id] = (fingerprint, customer)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        data["customer"] = customer
        return await handler(event, data)
