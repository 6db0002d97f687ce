"""Ownership verification: a single-use, expiring code, opened as a one-tap deep link on the
customer's new bot (`https://t.me/<bot>?start=<code>`).

Only the Telegram account that ordered can verify: the right code from anyone else is refused and
changes nothing. Strangers cannot spend the order's attempts either: a `/start` without a code, or
with another order's code, is answered and ignored, and wrong codes are limited PER SENDER (a sender
over the limit is ignored; the order stays open for its owner). A code is never accepted once the
order's server or bot has been released.

The pure part (`judge_start`) decides what one incoming `/start ...` means; `Verifier` stores
codes and polls the new bot's updates.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models import Instance, InstanceStatus, OrderStatus, Verification
from services.accounts.bot_api import BotApi
from services.jobs.queue import utcnow
from services.notifications.customer_text import N_, Text

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class StartOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"  # counts against its sender only
    NO_CODE = "no_code"  # a bare /start: answered, never counted
    FOREIGN_CODE = "foreign_code"  # another order's code: answered, never counted
    NOT_THE_OWNER = "not_the_owner"  # the right code from another Telegram account: refused
    NOT_A_START = "not_a_start"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"  # this sender used up their attempts; the order goes on


# sent by the NEW bot (its token), in the customer's language: the worker renders these `Text`s with
# the bot's catalogue (services.notifications.customers.render_for)
VERIFICATION_REPLIES: dict[StartOutcome, Text] = {
    StartOutcome.VERIFIED: Text(
        N_(
            "✅ Verified: this agent is yours, and it will answer only you. "
            "Switching it on now; Meet Matt tells you when it is live."
        )
    ),
    StartOutcome.WRONG_CODE: Text(
        N_("That link is not valid for this bot. Please use the button Meet Matt sent you.")
    ),
    StartOutcome.EXPIRED: Text(
        N_("This verification link has expired. Meet Matt will tell you what happens next.")
    ),
    StartOutcome.EXHAUSTED: Text(
        N_("Too many wrong attempts from this account: further codes from it are ignored.")
    ),
    StartOutcome.NO_CODE: Text(
        N_("This agent is not switched on yet. Its owner switches it on with the link Meet Matt sent them.")
    ),
    StartOutcome.FOREIGN_CODE: Text(
        N_("That link belongs to another bot. Please use the button Meet Matt sent you for this one.")
    ),
    StartOutcome.NOT_THE_OWNER: Text(
        N_(
            "This link belongs to the Telegram account that ordered this agent, "
            "and only that account can switch it on. Nothing was changed."
        )
    ),
    StartOutcome.NOT_A_START: Text(
        N_("This agent is not switched on yet. Open the link Meet Matt sent you and press Start.")
    ),
}

# what the customer is told when their own step (verification) ended the order
CUSTOMER_REASONS: dict[StartOutcome, Text] = {
    StartOutcome.EXPIRED: Text(
        N_(
            "The link to prove this bot is yours was not opened in time, so we "
            "stopped setting up your agent and released its server and bot."
        )
    ),
}


def new_code() -> str:
    """22 url-safe characters: fits a deep-link start parameter (64 max, [A-Za-z0-9_-])."""
    return secrets.token_urlsafe(16)


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def start_code(text: str) -> str | None:
    """The code of a `/start <code>` message ("" for a bare /start), None when it is no /start."""
    parts = text.strip().split(maxsplit=1)
    if not parts or parts[0].split("@", 1)[0] != "/start":
        return None
    return parts[1].strip() if len(parts) > 1 else ""


def judge_start(
    text: str,
    code: str,
    *,
    sender_id: int,
    owner_id: int,
    sender_attempts: int,
    expires_at: datetime,
    now: datetime,
    foreign: bool = False,
) -> StartOutcome:
    """What one message to the new bot means for a verification. `sender_attempts`: the wrong codes
    this sender already sent; `foreign`: the code is another order's."""
    if now >= expires_at:
        return StartOutcome.EXPIRED
    given = start_code(text)
    if given is None:
        return StartOutcome.NOT_A_START
    if not given:
        return StartOutcome.NO_CODE
    if sender_attempts >= MAX_ATTEMPTS:
        return StartOutcome.EXHAUSTED
    if secrets.compare_digest(given.encode(), code.encode()):
        return StartOutcome.VERIFIED if sender_id == owner_id else StartOutcome.NOT_THE_OWNER
    return StartOutcome.FOREIGN_CODE if foreign else StartOutcome.WRONG_CODE


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
        return await Verification.create(
            instance_id=instance.id, code=new_code(), expires_at=utcnow() + self.ttl
        )

    async def poll(
        self,
        verification: Verification,
        token: str,
        *,
        offset: int | None,
        wait_seconds: int,
        texts_for,
        owner_id: int,
    ) -> PollResult:
        """Read the new bot's messages once (long poll up to `wait_seconds`) and judge each `/start`.

        `owner_id`: the Telegram id of the customer who ordered, the only one who can verify.
        `texts_for(outcome)` gives the reply the new bot sends for an outcome (None: no reply).
        """
        messages = await self.bot_api.read_texts(token, offset, wait_seconds=wait_seconds)
        last = max((m.update_id for m in messages), default=None)
        for message in messages:
            if not message.text:
                continue
            outcome = await self.judge(verification, message.text, message.user_id, owner_id)
            if outcome == StartOutcome.WRONG_CODE:
                counts = dict(verification.wrong_by_sender or {})
                counts[str(message.user_id)] = counts.get(str(message.user_id), 0) + 1
                verification.wrong_by_sender = counts
                verification.attempts += 1
                await verification.save(update_fields=["wrong_by_sender", "attempts"])
            reply = texts_for(outcome)
            if reply:
                try:
                    await self.bot_api.send_text(token, message.chat_id, reply)
                except Exception as exc:  # a sender who blocked the new bot must not stall the check
                    log.warning(
                        "verification reply not delivered outcome=%s error=%s",
                        outcome.value,
                        type(exc).__name__,
                    )
            if outcome == StartOutcome.VERIFIED:
                verification.telegram_user_id = message.user_id
                verification.verified_at = utcnow()
                await verification.save(update_fields=["telegram_user_id", "verified_at"])
                return PollResult(message.user_id, last, outcome)
            if outcome == StartOutcome.EXPIRED:
                return PollResult(None, last, outcome)
        if utcnow() >= verification.expires_at:
            return PollResult(None, last, StartOutcome.EXPIRED)
        return PollResult(None, last, None)

    async def judge(
        self, verification: Verification, text: str, sender_id: int, owner_id: int
    ) -> StartOutcome:
        """What one message from `sender_id` means for this verification (database facts included:
        another order's code, the order released meanwhile)."""
        given = start_code(text) or ""
        foreign = (
            bool(given)
            and given != verification.code
            and await Verification.filter(code=given).exclude(id=verification.id).exists()
        )
        sender_attempts = (verification.wrong_by_sender or {}).get(str(sender_id), 0)
        outcome = judge_start(
            text,
            verification.code,
            sender_id=sender_id,
            owner_id=owner_id,
            sender_attempts=sender_attempts,
            expires_at=verification.expires_at,
            now=utcnow(),
            foreign=foreign,
        )
        if outcome == StartOutcome.VERIFIED and await released(verification):
            return StartOutcome.EXPIRED  # the order was given up meanwhile: nothing to switch on
        return outcome


async def released(verification: Verification) -> bool:
    """Whether the verification's instance or order has been let go (terminated, failed, refunded)."""
    instance = await Instance.get_or_none(id=verification.instance_id).select_related("order")
    if instance is None or instance.status in (
        InstanceStatus.TERMINATED,
        InstanceStatus.TERMINATING,
        InstanceStatus.FAILED,
    ):
        return True
    order = instance.order
    return order is None or order.status in (OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.REFUNDED)
