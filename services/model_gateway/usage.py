"""Model usage per instance per UTC day: recording what the upstream reported, and the views of it
(this month against the quota, tokens and estimated cost per day, top agents)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.functions import Sum

from config import Settings
from models import Instance, ModelUsage
from services.infra.generated_sql import add_on_conflict_statement, execute

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tokens:
    prompt: int = 0
    completion: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        return cls(
            settings.model_price_input_per_mtok,
            settings.model_price_cached_input_per_mtok,
            settings.model_price_output_per_mtok,
        )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def tokens_from_usage(usage: Any) -> Tokens | None:
    """Moonshot's/OpenAI's `usage` object as Tokens; None when it is not one.

    Cached tokens: Moonshot reports `cached_tokens` at the top, OpenAI `prompt_tokens_details.cached_tokens`.
    """
    if not isinstance(usage, dict) or "prompt_tokens" not in usage:
        return None
    details = usage.get("prompt_tokens_details")
    cached = _int(usage.get("cached_tokens")) or (
        _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    )
    return Tokens(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")), cached)


def tokens_from_chunk(chunk: Any) -> Tokens | None:
    """The usage in a completion or a streamed chunk: top-level `usage` (OpenAI's include_usage, and
    non-streamed answers) or in a choice (where Moonshot puts it on the last chunk)."""
    if not isinstance(chunk, dict):
        return None
    found = tokens_from_usage(chunk.get("usage"))
    if found is not None:
        return found
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict):
            found = tokens_from_usage(choice.get("usage"))
            if found is not None:
                return found
    return None


def estimated_cost(tokens: Tokens, prices: Prices) -> float:
    """USD: uncached prompt tokens at the input price, cached ones at the cache price, output at its own."""
    cached = min(tokens.cached, tokens.prompt)
    return (
        (tokens.prompt - cached) * prices.input
        + cached * prices.cached_input
        + tokens.completion * prices.output
    ) / 1_000_000


def month_start(now: datetime) -> date:
    return date(now.year, now.month, 1)


def next_month_start(now: datetime) -> date:
    return date(now.year + 1, 1, 1) if now.month == 12 else date(now.year, now.month + 1, 1)


# One statement adds a whole batch (the ORM has no increment-on-conflict): an INSERT of each
# (instance, day) row that adds to the existing row instead when there is one. Generated from
# ModelUsage's own fields: every column but the key and updated_at is a counter that adds up
# (services.infra.generated_sql, tests/services/test_generated_sql.py).
UPSERT_KEY = ("instance_id", "day")
_UPSERT_BATCH = 500  # rows per statement: 3,500 parameters, well under PostgreSQL's 32,767


def usage_row(instance_id: int, day: date, requests: int, tokens: Tokens, now: datetime) -> dict[str, Any]:
    """One ModelUsage row as the upsert writes it, by field name."""
    return {
        "instance_id": instance_id,
        "day": day,
        "requests": requests,
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "cached_tokens": tokens.cached,
        "updated_at": now,
    }


async def add_usage(batch: dict[tuple[int, date], tuple[int, Tokens]], using_db: Any = None) -> None:
    """Add requests and tokens to each (instance, day) row, creating the rows that are missing."""
    conn = using_db or connections.get("default")
    now = datetime.now(UTC)
    items = list(batch.items())
    for start in range(0, len(items), _UPSERT_BATCH):
        chunk = items[start : start + _UPSERT_BATCH]
        statement = add_on_conflict_statement(ModelUsage, UPSERT_KEY, len(chunk))
        values: list[Any] = []
        for (instance_id, day), (requests, t) in chunk:
            values += statement.values(usage_row(instance_id, day, requests, t, now))
        await execute(conn, statement, values)


async def record_usage(instance_id: int, day: date, tokens: Tokens | None, *, requests: int = 1) -> None:
    """Add one request (and its tokens, when the upstream reported them) to the instance's day row."""
    await add_usage({(instance_id, day): (requests, tokens or Tokens())})


class UsageRecorder:
    """Write-behind of usage: requests add to memory, one writer flushes every `interval` seconds in
    one statement, merging rows of the same instance and day.

    A write per request on the request's path is what made the gateway slow on SQLite (one fsync per
    UPDATE, one connection); this way a burst of answers costs one statement. A crash loses at most
    `interval` seconds of metering; a clean shutdown flushes (`close()`).
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._pending: dict[tuple[int, date], tuple[int, Tokens]] = {}
        self._writing: dict[tuple[int, date], tuple[int, Tokens]] = {}  # the batch being written
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.flushes = 0
        self._added: dict[int, int] = {}  # tokens added per instance since start, written or not

    def add(self, instance_id: int, day: date, tokens: Tokens | None, requests: int = 1) -> None:
        so_far_requests, so_far = self._pending.get((instance_id, day), (0, Tokens()))
        tokens = tokens or Tokens()
        self._added[instance_id] = self._added.get(instance_id, 0) + tokens.total
        self._pending[(instance_id, day)] = (
            so_far_requests + requests,
            Tokens(
                so_far.prompt + tokens.prompt,
                so_far.completion + tokens.completion,
                so_far.cached + tokens.cached,
            ),
        )

    def added_tokens(self, instance_id: int) -> int:
        """Tokens added for the instance since this recorder started (a counter that only grows)."""
        return self._added.get(instance_id, 0)

    def pending_tokens(self, instance_id: int) -> int:
        """Tokens of the instance not in the database yet (waiting, or in the batch being written)."""
        return sum(
            t.total
            for batch in (self._pending, self._writing)
            for (i, _), (_, t) in batch.items()
            if i == instance_id
        )

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            self._writing = batch
            try:
                await add_usage(batch)
                self.flushes += 1
            except Exception:
                for (instance_id, day), (requests, tokens) in batch.items():  # kept for the next try
                    self.add(instance_id, day, tokens, requests)
                    self._added[instance_id] -= tokens.total  # not new tokens
                raise
            finally:
                self._writing = {}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                log.exception("model usage: flush failed; retrying")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="model-usage-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


async def tokens_since(instance_id: int, first_day: date) -> int:
    """Prompt + completion tokens of the instance from `first_day` on."""
    rows = (
        await ModelUsage.filter(instance_id=instance_id, day__gte=first_day)
        .annotate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"))
        .values_list("p", "c")
    )
    return sum(int(p or 0) + int(c or 0) for p, c in rows)


async def month_tokens(instance_ids: list[int], now: datetime) -> dict[int, int]:
    """This calendar month's prompt + completion tokens per instance (0 for none)."""
    totals = dict.fromkeys(instance_ids, 0)
    if not instance_ids:
        return totals
    rows = await ModelUsage.filter(instance_id__in=instance_ids, day__gte=month_start(now)).values_list(
        "instance_id", "prompt_tokens", "completion_tokens"
    )
    for instance_id, prompt, completion in rows:
        totals[instance_id] += int(prompt) + int(completion)
    return totals


@dataclass(frozen=True)
class DayTotal:
    day: date
    requests: int
    tokens: Tokens
    cost: float


async def daily_totals(now: datetime, days: int, prices: Prices) -> list[DayTotal]:
    """Every instance together, per day, the last `days` days (today included), oldest first."""
    first = now.date() - timedelta(days=days - 1)
    rows = (
        await ModelUsage.filter(day__gte=first)
        .annotate(
            r=Sum("requests"),
            p=Sum("prompt_tokens"),
            c=Sum("completion_tokens"),
            k=Sum("cached_tokens"),
        )
        .group_by("day")
        .values_list("day", "r", "p", "c", "k")
    )
    out = []
    for day, r, p, c, k in sorted(rows, key=lambda row: row[0]):
        tokens = Tokens(int(p or 0), int(c or 0), int(k or 0))
        out.append(DayTotal(day, int(r or 0), tokens, estimated_cost(tokens, prices)))
    return out


@dataclass(frozen=True)
class AgentTotal:
    instance_id: int
    bot_username: str | None
    requests: int
    tokens: Tokens
    cost: float


async def agent_totals(
    first_day: date, prices: Prices, *, limit: int | None = None, last_day: date | None = None
) -> list[AgentTotal]:
    """Per instance from `first_day` (to `last_day`, inclusive), most tokens first."""
    query = ModelUsage.filter(day__gte=first_day)
    if last_day is not None:
        query = query.filter(day__lte=last_day)
    rows = (
        await query.annotate(
            r=Sum("requests"),
            p=Sum("prompt_tokens"),
            c=Sum("completion_tokens"),
            k=Sum("cached_tokens"),
        )
        .group_by("instance_id")
        .values_list("instance_id", "r", "p", "c", "k")
    )
    usernames = dict(await Instance.filter(id__in=[row[0] for row in rows]).values_list("id", "bot_username"))
    out = []
    for instance_id, r, p, c, k in rows:
        tokens = Tokens(int(p or 0), int(c or 0), int(k or 0))
        out.append(
            AgentTotal(
                instance_id, usernames.get(instance_id), int(r or 0), tokens, estimated_cost(tokens, prices)
            )
        )
    out.sort(key=lambda a: (-a.tokens.total, a.instance_id))
    return out[:limit] if limit else out
