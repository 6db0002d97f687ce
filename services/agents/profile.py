"""The bot's Telegram profile after go-live: its description and photo, set by the owner from /mybots.

The owner's request (`request_profile`) is checked against their own agents (another customer's
agent, a forged button: "not found", nothing queued) and queued as a `bot_profile` job. The worker
(`BotProfiles.handle`) has the creator account that made the bot run BotFather's `/setdescription`
and `/setuserpic`, and tells the owner when it is done or why it was not.

A managed bot (created by Telegram for the customer) belongs to the customer: they set its profile
in @BotFather themselves; we do not queue anything for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from models import Customer, Instance
from services.accounts.account_status import AccountUnavailable
from services.accounts.pool import AccountPool
from services.agents.controls import RESTARTABLE, owned_instance
from services.jobs.kinds import BOT_PROFILE
from services.jobs.queue import Claimed, JobQueue
from services.jobs.worker import PermanentError, RetryLater
from services.notifications.customer_text import N_, Text
from services.notifications.customers import queue_customer_message

log = logging.getLogger(__name__)

PhotoLoader = Callable[[str], Awaitable[bytes | None]]


class ProfileOutcome(StrEnum):
    QUEUED = "queued"
    NOT_LIVE = "not_live"  # still being set up, stopped: nothing to change yet
    MANAGED = "managed"  # the customer owns the bot in @BotFather: they change it there
    NOT_FOUND = "not_found"  # not this customer's agent


async def request_profile(
    queue: JobQueue,
    customer: Customer,
    instance_id: int,
    *,
    description: str | None = None,
    photo_file_id: str | None = None,
) -> ProfileOutcome:
    """Queue a change of the owner's bot profile (values already validated)."""
    instance = await owned_instance(customer, instance_id)
    if instance is None:
        return ProfileOutcome.NOT_FOUND
    await instance.fetch_related("order")
    if instance.order is not None and instance.order.creation_mode == "managed":
        return ProfileOutcome.MANAGED
    if instance.status not in RESTARTABLE or not instance.bot_username or instance.creator_account_id is None:
        return ProfileOutcome.NOT_LIVE
    payload: dict[str, Any] = {"instance_id": instance.id, "notify_chat_id": customer.telegram_id}
    if description is not None:
        payload["description"] = description
    if photo_file_id is not None:
        payload["photo_file_id"] = photo_file_id
    await queue.enqueue(BOT_PROFILE, payload, max_attempts=5)
    return ProfileOutcome.QUEUED


def done_text(username: str, description: bool) -> Text:
    if description:
        return Text(
            N_("✅ @{username}'s description is updated. Telegram shows it on the bot's profile."),
            {"username": username},
        )
    return Text(N_("✅ @{username}'s photo is updated."), {"username": username})


def failed_text(username: str, why: Text) -> Text:
    return Text(
        N_(
            "⚠️ @{username}'s profile was not changed: {why} Nothing else was touched; you can "
            "try again from /mybots."
        ),
        {"username": username, "why": why},
    )


REFUSED = Text(N_("Telegram refused the change."))
PHOTO_GONE = Text(N_("the photo could not be read again; please send it once more."))
NO_ACCOUNT = Text(N_("the account that made your bot cannot reach Telegram now. Our team is told."))
NOT_LIVE_NOW = Text(N_("your agent is no longer live."))


class BotProfiles:
    """The `bot_profile` job: the creator account changes the bot's profile through BotFather."""

    def __init__(self, pool: AccountPool, queue: JobQueue, photo_loader: PhotoLoader | None) -> None:
        self.pool = pool
        self.queue = queue
        self.photo_loader = photo_loader

    async def handle(self, claimed: Claimed) -> None:
        payload = claimed.job.payload
        chat_id = int(payload["notify_chat_id"])
        instance = await Instance.get_or_none(id=int(payload["instance_id"])).select_related("customer")
        # the job was queued for the owner: anyone else's chat id changes nothing
        if instance is None or instance.customer is None or instance.customer.telegram_id != chat_id:
            raise PermanentError("bot_profile: the agent is not this chat's")
        username = instance.bot_username or ""
        description = payload.get("description")

        async def tell(text: Text) -> None:
            await queue_customer_message(self.queue, chat_id, text, key=f"bot_profile:{claimed.job.id}")

        if instance.status not in RESTARTABLE or instance.creator_account_id is None or not username:
            await tell(failed_text(username, NOT_LIVE_NOW))
            return
        photo: bytes | None = None
        if payload.get("photo_file_id"):
            photo = await self.photo_loader(payload["photo_file_id"]) if self.photo_loader else None
            if not photo:
                await tell(failed_text(username, PHOTO_GONE))
                return
        try:
            refused = await self.pool.set_profile(
                instance.creator_account_id, username, description=description or "", photo=photo
            )
        except AccountUnavailable as exc:
            if exc.retry_at is not None and claimed.job.attempts < claimed.job.max_attempts:
                raise RetryLater(exc.retry_at, str(exc)) from None
            log.warning("bot profile not changed", extra={"instance_id": instance.id, "error": str(exc)})
            await tell(failed_text(username, NO_ACCOUNT))
            return
        if refused:
            log.warning("bot profile refused", extra={"instance_id": instance.id, "steps": refused})
            await tell(failed_text(username, REFUSED))
            return
        await tell(done_text(username, description is not None))
