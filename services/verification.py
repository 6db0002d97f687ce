"""Ownership verification: a single-use, expiring code, opened as a one-tap deep link on the
customer's new bot (`https://t.me/<bot>?start=<code>`). Attempts are limited.

The pure part (`judge_start`) decides what one incoming `/start ...` means; `Verifier` stores
codes and polls the new bot's updates.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models import Instance, Verification
from services.bot_api import BotApi
from services.jobs import utcnow

MAX_ATTEMPTS = 5


class StartOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    NOT_A_START = "not_a_start"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"


def new_code() -> str:
    """22 url-safe characters: fits a deep-link start parameter (64 max, [A-Za-z0-9_-])."""
    return secrets.token_urlsafe(16)


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def judge_start(text: str, code: str, *, attempts: int, expires_at: datetime, now: datetime) -> StartOutcome:
    """What one message to the new bot means for a verification."""
    if now >= expires_at:
        return StartOutcome.EXPIRED
    if attempts >= MAX_ATTEMPTS:
        return StartOutcome.EXHAUSTED
    parts = text.strip().split(maxsplit=1)
    if not parts or parts[0].split("@", 1)[0] != "/start":
        return StartOutcome.NOT_A_START
    given = parts[1].strip() if len(parts) > 1 else ""
    return StartOutcome.VERIFIED if secrets.compare_digest(given, code) else StartOutcome.WRONG_CODE


@dataclass(frozen=True)
class PollResult:
    verified_user_id: int | None
    last_update_id: int | None
    outcome: StartOutcome | None


class Verifier:
    def __init__(self, bot_api: BotApi, ttl: timedelta = timedelta(hours=24)) -> None:
        self.bot_api = bot_api
        self.ttl = ttl

    async def issue(self, instance: Instance) -> Verification:
        """The instance's open verification, created once (a resumed job gets the same code)."""
        existing = await Verification.get_or_none(instance_id=instance.id)
        if existing is not None:
            return existing
        return await Verification.create(instance_id=instance.id, code=new_code(),
                                         expires_at=utcnow() + self.ttl)

    async def poll(self, verification: Verification, token: str, *, offset: int | None,
                   wait_seconds: int, texts_for) -> PollResult:
        """Read the new bot's messages once (long poll up to `wait_seconds`) and judge each `/start`.

        `texts_for(outcome)` gives the reply the new bot sends for an outcome (None: no reply).
        """
        messages = await self.bot_api.read_texts(token, offset, wait_seconds=wait_seconds)
        last = max((m.update_id for m in messages), default=None)
        for message in messages:
            if not message.text:
                continue
            outcome = judge_start(message.text, verification.code, attempts=verification.attempts,
                                  expires_at=verification.expires_at, now=utcnow())
            if outcome == StartOutcome.WRONG_CODE:
                verification.attempts += 1
                await verification.save(update_fields=["attempts"])
            reply = texts_for(outcome)
            if reply:
                await self.bot_api.send_text(token, message.chat_id, reply)
            if outcome == StartOutcome.VERIFIED:
                verification.telegram_user_id = message.user_id
                verification.verified_at = utcnow()
                await verification.save(update_fields=["telegram_user_id", "verified_at"])
                return PollResult(message.user_id, last, outcome)
            if outcome in (StartOutcome.EXPIRED, StartOutcome.EXHAUSTED):
                return PollResult(None, last, outcome)
        if utcnow() >= verification.expires_at:
            return PollResult(None, last, StartOutcome.EXPIRED)
        return PollResult(None, last, None)
