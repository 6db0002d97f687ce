"""Views of model usage for the three doors: the CLI (`instances usage`), /mybots and /stats.
Rows are plain data (no secret, no aiogram); the bot's texts format them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from models import Instance, ModelUsage
from services.model_gateway.quota import Quota, quota_for
from services.model_gateway.usage import (
    AgentTotal,
    DayTotal,
    Prices,
    Tokens,
    agent_totals,
    daily_totals,
    estimated_cost,
    month_start,
    month_tokens,
    next_month_start,
)
from services.payments.packages import Package


def parse_month(text: str) -> date:
    """'2026-11' -> 2026-11-01; ValueError with the expected shape otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        raise ValueError(f"not a month: {text!r} (expected YYYY-MM, e.g. 2026-11)") from None


async def usage_rows(month: date, packages: tuple[Package, ...], prices: Prices) -> list[dict[str, Any]]:
    """One row per instance that used the model in `month`, most tokens first."""
    last = next_month_start(datetime(month.year, month.month, 1)) - timedelta(days=1)
    totals = await agent_totals(month, prices, last_day=last)
    instances = {i.id: i for i in await Instance.filter(id__in=[t.instance_id for t in totals])}
    rows = []
    for total in totals:
        instance = instances.get(total.instance_id)
        quota = await quota_for(total.instance_id, instance.order_id if instance else None, packages)
        rows.append(
            {
                "instance": total.instance_id,
                "bot_username": total.bot_username,
                "status": str(instance.status) if instance else None,
                "month": f"{month:%Y-%m}",
                "requests": total.requests,
                "prompt_tokens": total.tokens.prompt,
                "completion_tokens": total.tokens.completion,
                "cached_tokens": total.tokens.cached,
                "total_tokens": total.tokens.total,
                "quota_tokens": quota.tokens_per_month or None,
                "quota_used_pct": _percent(total.tokens.total, quota.tokens_per_month),
                "estimated_cost_usd": round(total.cost, 4),
            }
        )
    return rows


def _percent(used: int, quota: int) -> float | None:
    return round(100 * used / quota, 1) if quota > 0 else None


@dataclass(frozen=True)
class MonthUse:
    """An agent's use of the model this month against its quota (for /mybots)."""

    tokens: int
    quota: Quota
    resets_on: date

    @property
    def percent(self) -> float | None:
        return _percent(self.tokens, self.quota.tokens_per_month)


async def month_use(
    instances: list[Instance], now: datetime, packages: tuple[Package, ...]
) -> dict[int, MonthUse]:
    """This month's tokens and quota for each instance (two queries plus one per quota lookup)."""
    used = await month_tokens([i.id for i in instances], now)
    out = {}
    for instance in instances:
        quota = await quota_for(instance.id, instance.order_id, packages)
        out[instance.id] = MonthUse(used[instance.id], quota, next_month_start(now))
    return out


@dataclass(frozen=True)
class StatsUsage:
    """Model use for /stats: per day (the last `days`), this month, and the top agents this month."""

    days: list[DayTotal]
    month_tokens: Tokens
    month_cost: float
    top: list[AgentTotal]


async def stats_usage(now: datetime, prices: Prices, *, days: int = 7, top: int = 5) -> StatsUsage:
    rows = await ModelUsage.filter(day__gte=month_start(now)).values_list(
        "prompt_tokens", "completion_tokens", "cached_tokens"
    )
    month = Tokens(sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows))
    return StatsUsage(
        await daily_totals(now, days, prices),
        month,
        estimated_cost(month, prices),
        await agent_totals(month_start(now), prices, limit=top),
    )
