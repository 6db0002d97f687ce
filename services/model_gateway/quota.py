"""Model quotas: tokens per calendar month and requests per minute, per instance.

The package catalogue gives each package its quotas (`Package.model_tokens_per_month`,
`Package.model_requests_per_minute`; 0 means no limit); `ModelQuotaOverride` replaces either for one
instance. The monthly check reads the instance's usage rows (shared by every web replica); the
per-minute check counts in the process (see `RequestRateLimiter`).

Going over the monthly quota answers the agent a clear error (which OpenClaw relays to its owner) and
queues ONE message to the customer from the Meet Matt bot, with a renew button, per instance and month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from models import ModelQuotaOverride, Order
from services.jobs.queue import JobQueue
from services.model_gateway.keys import KeyHolder
from services.model_gateway.usage import next_month_start
from services.notifications.customer_text import N_, Text
from services.notifications.customers import owner_chat_id, queue_customer_message
from services.payments.packages import Package, find_package

log = logging.getLogger(__name__)

# a button whose URL starts with this opens the Meet Matt bot itself with the rest as /start payload
# (bot/messenger.py turns it into https://t.me/<the bot>?start=<payload>)
START_LINK = "start:"
RENEW_START_PREFIX = "renew-"


@dataclass(frozen=True)
class Quota:
    tokens_per_month: int  # 0: no limit
    requests_per_minute: int  # 0: no limit


def effective_quota(package: Package | None, override: ModelQuotaOverride | None) -> Quota:
    """The package's quota with the instance's override applied; no package: the most cautious default."""
    tokens = package.model_tokens_per_month if package else Package.model_tokens_per_month
    rpm = package.model_requests_per_minute if package else Package.model_requests_per_minute
    if override is not None:
        tokens = override.tokens_per_month if override.tokens_per_month is not None else tokens
        rpm = override.requests_per_minute if override.requests_per_minute is not None else rpm
    return Quota(int(tokens), int(rpm))


async def package_of(instance_id: int, order_id: int | None, packages: tuple[Package, ...]) -> Package | None:
    """The package of the instance's latest paid order or renewal (a renewal may change it)."""
    where = Q(renews_id=instance_id) | Q(id=order_id) if order_id is not None else Q(renews_id=instance_id)
    codes = (
        await Order.filter(where, paid_at__not_isnull=True)
        .order_by("-paid_at")
        .values_list("package", flat=True)
    )
    if not codes and order_id is not None:
        codes = await Order.filter(id=order_id).values_list("package", flat=True)
    return find_package(packages, codes[0]) if codes else None


async def quota_for(instance_id: int, order_id: int | None, packages: tuple[Package, ...]) -> Quota:
    override = await ModelQuotaOverride.get_or_none(instance_id=instance_id)
    return effective_quota(await package_of(instance_id, order_id, packages), override)


async def set_override(
    instance_id: int, *, tokens_per_month: int | None, requests_per_minute: int | None
) -> None:
    """Replace the instance's override (None for a field: the package's value)."""
    if tokens_per_month is None and requests_per_minute is None:
        await ModelQuotaOverride.filter(instance_id=instance_id).delete()
        return
    await ModelQuotaOverride.update_or_create(
        defaults={"tokens_per_month": tokens_per_month, "requests_per_minute": requests_per_minute},
        instance_id=instance_id,
    )


def minute_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


class RequestRateLimiter:
    """Requests per minute per key, in a fixed one-minute window, in this process.

    Deliberately not in the database: it is on every request's path, and a write per request is what
    made the gateway slow (bench/model_gateway.py). With several web replicas each counts its own
    share, so the limit holds per replica; the monthly token quota, read from the database, is the
    hard cap.
    """

    def __init__(self) -> None:
        self._windows: dict[int, tuple[datetime, int]] = {}

    def take(self, key_id: int, limit: int, now: datetime) -> bool:
        """Count one request of the key in this minute; False when the minute's limit is reached."""
        if limit <= 0:
            return True
        minute = minute_of(now)
        start, count = self._windows.get(key_id, (minute, 0))
        if start != minute:
            if len(self._windows) > 10_000:  # forget stale windows now and then
                self._windows = {k: w for k, w in self._windows.items() if w[0] == minute}
            start, count = minute, 0
        if count >= limit:
            return False
        self._windows[key_id] = (start, count + 1)
        return True


def monthly_limit_message(quota: Quota, now: datetime) -> str:
    """What the agent gets (and relays): says what happened, when it resets, and what to do."""
    resets = next_month_start(now).isoformat()
    return (
        f"Monthly usage limit reached for this agent's plan ({quota.tokens_per_month:,} tokens). "
        f"It resets on {resets} (UTC); renew or upgrade the plan in the Meet Matt bot to continue."
    )


def rate_limit_message(quota: Quota) -> str:
    return (
        f"Too many requests: this agent's plan allows {quota.requests_per_minute} model requests "
        "per minute. Please try again in a minute."
    )


def customer_quota_text(bot_username: str | None, quota: Quota, now: datetime) -> Text:
    """The one message the customer gets when their agent runs out of model allowance (the bot
    renders it in the customer's language)."""
    name = Text(N_("@{username}"), {"username": bot_username}) if bot_username else Text(N_("your agent"))
    return Text(
        N_(
            "⚠️ {name} has used this month's model allowance ({tokens} tokens) and can't answer until "
            "{day}. Renew or upgrade to keep it going."
        ),
        {"name": name, "tokens": f"{quota.tokens_per_month:,}", "day": next_month_start(now).isoformat()},
    )


RENEW_OR_UPGRADE = Text(N_("🔁 Renew or upgrade"))


class QuotaNotifier:
    """Queues the one over-quota message per instance and month (the job key makes it unique even
    across web replicas; the in-process memory spares the database on every refused request)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        self._sent: set[str] = set()

    async def over_monthly_quota(self, holder: KeyHolder, quota: Quota, now: datetime) -> None:
        key = f"model_quota:{holder.instance_id}:{now:%Y-%m}"
        if key in self._sent:
            return
        chat_id = await owner_chat_id(holder.instance_id)
        if chat_id is not None:
            await queue_customer_message(
                self.queue,
                chat_id,
                customer_quota_text(holder.bot_username, quota, now),
                key=key,
                buttons=[(RENEW_OR_UPGRADE, f"{START_LINK}{RENEW_START_PREFIX}{holder.instance_id}")],
            )
            log.info("model quota reached; customer told", extra={"instance_id": holder.instance_id})
        self._sent.add(key)


def seconds_to_next_minute(now: datetime) -> int:
    return max(1, int((minute_of(now) + timedelta(minutes=1) - now).total_seconds()))
