"""Usage metering: what the upstream reports, per instance per day; cost estimates; quota rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from models import Customer, Instance, ModelQuotaOverride, ModelUsage, Order
from services.model_gateway.quota import (
    Quota,
    RequestRateLimiter,
    effective_quota,
    package_of,
    quota_for,
    set_override,
)
from services.model_gateway.usage import (
    Prices,
    Tokens,
    UsageRecorder,
    agent_totals,
    daily_totals,
    estimated_cost,
    month_tokens,
    next_month_start,
    record_usage,
    tokens_from_chunk,
)
from services.payments.packages import DEFAULT_PACKAGES, Package, PackageError, find_package, parse_packages

KIMI = Prices(input=0.60, cached_input=0.10, output=3.00)


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        ({"usage": {"prompt_tokens": 10, "completion_tokens": 5}}, Tokens(10, 5, 0)),
        ({"usage": {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 4}}, Tokens(10, 5, 4)),
        (
            {
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "prompt_tokens_details": {"cached_tokens": 2},
                }
            },
            Tokens(10, 5, 2),
        ),
        (
            {"choices": [{"delta": {}, "usage": {"prompt_tokens": 7, "completion_tokens": 1}}]},
            Tokens(7, 1, 0),
        ),
        ({"choices": [], "usage": None}, None),
        ({"choices": [{"delta": {"content": "hi"}}]}, None),
        ({"usage": {"prompt_tokens": -3, "completion_tokens": "5"}}, Tokens(0, 0, 0)),
        ([], None),
    ],
)
def test_usage_is_read_where_moonshot_and_openai_put_it(chunk, expected):
    assert tokens_from_chunk(chunk) == expected


@pytest.mark.parametrize(
    ("tokens", "usd"),
    [
        (Tokens(1_000_000, 0, 0), 0.60),
        (Tokens(1_000_000, 0, 1_000_000), 0.10),
        (Tokens(0, 1_000_000, 0), 3.00),
        (Tokens(2_000_000, 1_000_000, 1_000_000), 0.60 + 0.10 + 3.00),
    ],
)
def test_cost_prices_cached_prompt_tokens_at_the_cache_price(tokens, usd):
    assert estimated_cost(tokens, KIMI) == pytest.approx(usd)


@pytest.mark.parametrize(
    ("now", "first"),
    [
        (datetime(2026, 11, 29, tzinfo=UTC), date(2026, 12, 1)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_the_month_resets_on_the_first(now, first):
    assert next_month_start(now) == first


SMALL = Package("a", "A", 1, "usd", 30, "t3.small", model_tokens_per_month=100, model_requests_per_minute=5)


@pytest.mark.parametrize(
    ("package", "override", "expected"),
    [
        (SMALL, None, Quota(100, 5)),
        (SMALL, ModelQuotaOverride(tokens_per_month=None, requests_per_minute=None), Quota(100, 5)),
        (SMALL, ModelQuotaOverride(tokens_per_month=7, requests_per_minute=None), Quota(7, 5)),
        (SMALL, ModelQuotaOverride(tokens_per_month=None, requests_per_minute=0), Quota(100, 0)),
        (None, None, Quota(Package.model_tokens_per_month, Package.model_requests_per_minute)),
    ],
)
def test_the_packages_quota_applies_unless_overridden(package, override, expected):
    assert effective_quota(package, override) == expected


def test_the_default_packages_have_quotas_and_packages_json_can_set_them():
    assert all(p.model_tokens_per_month > 0 and p.model_requests_per_minute > 0 for p in DEFAULT_PACKAGES)
    custom = parse_packages(
        '[{"code": "big", "title": "Big", "price": 100, "currency": "usd", '
        '"term_days": 30, "instance_type": "t3.small", "model_tokens_per_month": 0, '
        '"model_requests_per_minute": 100}]'
    )
    assert (custom[0].model_tokens_per_month, custom[0].model_requests_per_minute) == (0, 100)
    with pytest.raises(PackageError, match="model quotas"):
        parse_packages(
            '[{"code": "bad", "title": "B", "price": 1, "currency": "usd", "term_days": 1, '
            '"instance_type": "t3.small", "model_requests_per_minute": -1}]'
        )


async def _instance(telegram_id: int = 91, package: str = "starter") -> Instance:
    customer = await Customer.create(telegram_id=telegram_id)
    order = await Order.create(
        customer=customer, package=package, bot_name="x", paid_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return await Instance.create(order=order, customer=customer, bot_username=f"bot{telegram_id}")


async def test_concurrent_requests_of_one_day_add_up_in_one_row(db):
    instance = await _instance()
    day = date(2026, 11, 29)
    await asyncio.gather(*(record_usage(instance.id, day, Tokens(10, 2, 1)) for _ in range(12)))
    row = await ModelUsage.get(instance_id=instance.id, day=day)
    assert (row.requests, row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (12, 120, 24, 12)


async def test_month_totals_count_this_month_only(db):
    instance = await _instance()
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    await record_usage(instance.id, date(2026, 10, 31), Tokens(1000, 1000))
    await record_usage(instance.id, date(2026, 11, 1), Tokens(10, 5))
    await record_usage(instance.id, date(2026, 11, 29), Tokens(1, 1))
    assert await month_tokens([instance.id, 999], now) == {instance.id: 17, 999: 0}


async def test_daily_totals_and_top_agents(db):
    a, b = await _instance(1), await _instance(2)
    today = date(2026, 11, 29)
    await record_usage(a.id, today, Tokens(1_000_000, 0))
    await record_usage(b.id, today, Tokens(0, 1_000_000))
    await record_usage(b.id, today - timedelta(days=1), Tokens(10, 10))
    days = await daily_totals(datetime(2026, 11, 29, tzinfo=UTC), 7, KIMI)
    assert [(d.day, d.requests, d.tokens.total) for d in days] == [
        (today - timedelta(days=1), 1, 20),
        (today, 2, 2_000_000),
    ]
    assert days[-1].cost == pytest.approx(3.60)
    top = await agent_totals(today - timedelta(days=1), KIMI, limit=1)
    assert [(t.instance_id, t.bot_username, t.tokens.total) for t in top] == [(b.id, "bot2", 1_000_020)]


def test_requests_per_minute_are_counted_in_a_one_minute_window():
    limiter = RequestRateLimiter()
    now = datetime(2026, 11, 29, 12, 0, 10, tzinfo=UTC)
    assert [limiter.take(1, 3, now) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.take(2, 3, now) is True  # another key has its own window
    assert limiter.take(1, 3, now + timedelta(seconds=49)) is False  # same minute
    assert limiter.take(1, 3, now + timedelta(minutes=1)) is True
    assert all(limiter.take(1, 0, now) for _ in range(100))  # 0: no limit


async def test_the_usage_recorder_merges_requests_and_writes_them_in_one_flush(db):
    instance = await _instance()
    recorder = UsageRecorder(interval=60)
    day = date(2026, 11, 29)
    for _ in range(5):
        recorder.add(instance.id, day, Tokens(10, 2, 1))
    recorder.add(instance.id, day, None)  # a request without reported usage still counts
    assert recorder.pending_tokens(instance.id) == 60
    assert not await ModelUsage.exists()
    await recorder.flush()
    row = await ModelUsage.get(instance_id=instance.id, day=day)
    assert (row.requests, row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (6, 50, 10, 5)
    assert recorder.pending_tokens(instance.id) == 0 and recorder.flushes == 1
    recorder.add(instance.id, day, Tokens(1, 1, 0))
    await recorder.close()  # closing writes what is left
    assert (await ModelUsage.get(instance_id=instance.id, day=day)).requests == 7


async def test_a_renewal_on_another_package_changes_the_quota_and_an_override_wins(db):
    instance = await _instance(package="starter")
    packages = DEFAULT_PACKAGES
    assert (await package_of(instance.id, instance.order_id, packages)).code == "starter"
    await Order.create(
        customer_id=instance.customer_id,
        package="pro",
        bot_name="x",
        renews=instance,
        paid_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    pro = find_package(packages, "pro")
    assert await quota_for(instance.id, instance.order_id, packages) == Quota(
        pro.model_tokens_per_month, pro.model_requests_per_minute
    )
    await set_override(instance.id, tokens_per_month=5, requests_per_minute=None)
    overridden = await quota_for(instance.id, instance.order_id, packages)
    assert overridden == Quota(5, pro.model_requests_per_minute)
    await set_override(instance.id, tokens_per_month=None, requests_per_minute=None)
    assert (
        await quota_for(instance.id, instance.order_id, packages)
    ).tokens_per_month == pro.model_tokens_per_month
