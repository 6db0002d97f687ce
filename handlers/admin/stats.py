"""/stats: counts, revenue and pool health."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from tortoise.functions import Count, Sum

from bot import texts
from config import Settings
from models import AccountStatus, Instance, Order, TelegramAccount
from services.accounts.account_status import RESTING, bot_cap, usable
from services.jobs.queue import JobQueue, utcnow
from services.model_gateway.usage import Prices
from services.model_gateway.usage_report import stats_usage


async def _counts(model: type) -> dict[str, int]:
    rows = await model.annotate(n=Count("id")).group_by("status").values_list("status", "n")
    return {str(status): int(n) for status, n in rows}


async def stats(message: Message, queue: JobQueue, settings: Settings) -> None:
    revenue_rows = await (
        Order.filter(paid_at__not_isnull=True)
        .annotate(total=Sum("amount"), refunded=Sum("amount_refunded"))
        .group_by("currency")
        .values_list("currency", "total", "refunded")
    )
    revenue = {str(cur): int(total or 0) - int(refunded or 0) for cur, total, refunded in revenue_rows}
    now = utcnow()
    candidates = await TelegramAccount.filter(status__in=[AccountStatus.ACTIVE, *RESTING])
    usable_accounts = sum(usable(a, now, bot_cap(a, settings.creator_bot_limit)) for a in candidates)
    jobs = {k: v for k, v in (await queue.counts()).items() if v}
    await message.answer(
        texts.admin_stats(
            await _counts(Order),
            await _counts(Instance),
            await _counts(TelegramAccount),
            jobs,
            revenue,
            usable_accounts,
        )
        + "\n"
        + texts.admin_model_usage(await stats_usage(utcnow(), Prices.from_settings(settings)))
    )


def build_router() -> Router:
    """This feature's handlers on a fresh Router (see handlers.get_routers)."""
    router = Router(name="admin.stats")
    router.message.register(stats, Command("stats"))
    return router
