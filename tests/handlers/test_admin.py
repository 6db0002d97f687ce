"""Admin routers through Dispatcher.feed_update: /accounts, /instances, /orders, /stats, every button,
the audit trail with its echo to the admin chat, and the guard that keeps non-admins out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import texts
from bot.callbacks import AccountCb, InstanceCb, InstanceListCb, OrderListCb
from models import (
    AccountStatus,
    AdminAction,
    Customer,
    Instance,
    InstanceStatus,
    Job,
    Order,
    OrderStatus,
    TelegramAccount,
)
from services.jobs.kinds import (
    ACCOUNT_CHECK,
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import utcnow
from tests.bot.fixtures import ADMIN_CHAT_ID
from tests.bot.harness import BotHarness, FakeUser, joined, last_sent


async def account(phone: str = "+15551234567", **fields: object) -> TelegramAccount:
    return await TelegramAccount.create(phone=phone, api_id=1, api_hash="f" * 32, **fields)


async def instance(
    status: InstanceStatus = InstanceStatus.ACTIVE, username: str = "cy_agent_bot"
) -> Instance:
    customer, _ = await Customer.get_or_create(telegram_id=600_100, defaults={"full_name": "Cy"})
    return await Instance.create(
        customer=customer,
        status=status,
        bot_username=username,
        ec2_instance_id=f"i-{username[:8]}",
        public_ip="203.0.113.9",
    )


def echoes(calls: list) -> list[str]:
    return [c.text for c in calls if c.name == "SendMessage" and c.chat_id == ADMIN_CHAT_ID]


async def test_accounts_lists_each_account_masked_with_its_buttons(
    harness: BotHarness, admin: FakeUser
) -> None:
    await account(
        last_error="FloodWait <3600s>",
        created_bots=4,
        cooldown_until=utcnow() + timedelta(minutes=5),
        status=AccountStatus.COOLING_DOWN,
    )
    await account("+15559990000", priority=50)
    calls = await harness.send(admin, "/accounts")
    sent = [c for c in calls if c.name == "SendMessage"]
    assert len(sent) == 1  # one message however many accounts: no flood
    listing = sent[0]
    assert "Creator accounts</b>: 2" in listing.text and "+1555" not in listing.text
    lines = listing.text.splitlines()[1:]
    assert "…0000" in lines[0] and "priority 50" in lines[0]  # ordered by priority
    assert "…4567" in lines[1] and "cooling_down" in lines[1] and "bots 4/20" in lines[1]
    assert "cooling down until" in lines[1] and "FloodWait &lt;3600s&gt;" in lines[1]
    second = await TelegramAccount.get(phone="+15551234567")
    calls = await harness.press(admin, listing.button("…4567").callback_data)
    card = last_sent(calls)
    assert (
        f"Account #{second.id}" in card.text
        and "4/20" in card.text
        and "FloodWait &lt;3600s&gt;" in card.text
    )
    assert set(card.markup_texts) == {
        texts.ACCOUNT_BUTTONS[k] for k in ("check", "disable", "prio_up", "prio_down")
    }


async def test_no_accounts_says_how_to_add_one(harness: BotHarness, admin: FakeUser) -> None:
    assert "accounts login" in joined(await harness.send(admin, "/accounts"))


async def test_account_check_enqueues_a_job_answers_at_once_and_is_recorded(
    harness: BotHarness, admin: FakeUser
) -> None:
    acc = await account()
    calls = await harness.press(admin, AccountCb(action="check", account_id=acc.id).pack())
    assert calls[0].name == "AnswerCallbackQuery" and "Queued" in calls[0].text  # answered first
    job = await Job.get(kind=ACCOUNT_CHECK)
    assert job.payload == {"account_id": acc.id}
    action = await AdminAction.get()
    assert (action.admin_telegram_id, action.action) == (admin.id, "account_check")
    assert "…4567" in action.target and f"job #{job.id}" in action.detail
    assert any("account_check" in e for e in echoes(calls))


@pytest.mark.parametrize(
    ("action", "field", "before", "after"),
    [
        ("disable", "status", AccountStatus.ACTIVE, AccountStatus.DISABLED),
        ("enable", "status", AccountStatus.DISABLED, AccountStatus.ACTIVE),
        ("prio_up", "priority", 100, 99),
        ("prio_down", "priority", 100, 101),
    ],
)
async def test_account_buttons_change_the_account_and_refresh_the_message(
    harness: BotHarness, admin: FakeUser, action: str, field: str, before: object, after: object
) -> None:
    acc = await account(**{field: before})
    calls = await harness.press(admin, AccountCb(action=action, account_id=acc.id).pack())
    assert getattr(await TelegramAccount.get(id=acc.id), field) == after
    edited = [c for c in calls if c.name == "EditMessageText"][0]
    assert str(after) in edited.text
    record = await AdminAction.get()
    assert record.action == ("account_priority" if action.startswith("prio") else f"account_{action}")
    assert f"{before} -> {after}" in record.detail
    assert echoes(calls)


async def test_buttons_for_a_vanished_account_or_instance_say_so(
    harness: BotHarness, admin: FakeUser
) -> None:
    calls = await harness.press(admin, AccountCb(action="check", account_id=999).pack())
    assert calls[0].text == texts.ADMIN_GONE
    calls = await harness.press(admin, AccountCb(action="show", account_id=999).pack())
    assert calls[0].text == texts.ADMIN_GONE
    calls = await harness.press(admin, InstanceCb(action="restart", instance_id=999).pack())
    assert calls[0].text == texts.ADMIN_GONE
    assert await Job.all().count() == 0


async def test_instances_pages_by_status_and_shows_details(harness: BotHarness, admin: FakeUser) -> None:
    for n in range(10):
        await instance(InstanceStatus.ACTIVE, f"agent_{n:02d}_bot")
    await instance(InstanceStatus.UNHEALTHY, "sick_one_bot")
    calls = await harness.send(admin, "/instances")
    listing = last_sent(calls)
    assert "active · 10 in all · page 1/2" in listing.text and "sick_one_bot" not in listing.text
    assert "Next »" in listing.markup_texts
    calls = await harness.press(admin, InstanceListCb(status="active", page=1).pack())
    assert "page 2/2" in last_sent(calls).text
    calls = await harness.press(admin, InstanceListCb(status="unhealthy").pack())
    assert "sick_one_bot" in last_sent(calls).text
    calls = await harness.send(admin, "/instances all")
    assert "11 in all" in last_sent(calls).text
    sick = await Instance.get(bot_username="sick_one_bot")
    calls = await harness.press(admin, InstanceCb(action="show", instance_id=sick.id).pack())
    details = last_sent(calls)
    assert f"Instance #{sick.id}" in details.text and "203.0.113.9" in details.text
    assert texts.INSTANCE_BUTTONS["terminate"] in details.markup_texts


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("health", INSTANCE_HEALTH_CHECK),
        ("restart", INSTANCE_RESTART),
        ("reprovision", INSTANCE_REPROVISION),
    ],
)
async def test_instance_buttons_enqueue_their_job(
    harness: BotHarness, admin: FakeUser, action: str, kind: str
) -> None:
    inst = await instance()
    calls = await harness.press(admin, InstanceCb(action=action, instance_id=inst.id).pack())
    assert calls[0].name == "AnswerCallbackQuery" and "Queued" in calls[0].text
    assert (await Job.get(kind=kind)).payload == {"instance_id": inst.id}
    assert (await AdminAction.get()).action == kind
    assert any(kind in e for e in echoes(calls))


async def test_terminate_asks_first_and_enqueues_once(harness: BotHarness, admin: FakeUser) -> None:
    inst = await instance()
    calls = await harness.press(admin, InstanceCb(action="terminate", instance_id=inst.id).pack())
    assert "Terminate instance" in last_sent(calls).text and await Job.all().count() == 0
    calls = await harness.press(admin, InstanceCb(action="terminate_no", instance_id=inst.id).pack())
    assert f"Instance #{inst.id}" in last_sent(calls).text and await Job.all().count() == 0
    for _ in range(2):
        await harness.press(admin, InstanceCb(action="terminate_yes", instance_id=inst.id).pack())
    jobs = await Job.filter(kind=INSTANCE_TERMINATE)
    assert len(jobs) == 1 and jobs[0].payload == {"instance_id": inst.id, "reason": "admin request"}


async def test_orders_lists_recent_and_filters_by_status(harness: BotHarness, admin: FakeUser) -> None:
    customer = await Customer.create(telegram_id=600_200, full_name="Dee")
    await Order.create(customer=customer, package="starter", bot_name="<i>One</i>", amount=2900)
    await Order.create(
        customer=customer, package="pro", bot_name="Two", status=OrderStatus.ACTIVE, amount=7900
    )
    calls = await harness.send(admin, "/orders")
    text = last_sent(calls).text
    assert "“&lt;i&gt;One&lt;/i&gt;”" in text and "Two" in text
    calls = await harness.press(admin, OrderListCb(status="active").pack())
    assert "Two" in last_sent(calls).text and "One" not in last_sent(calls).text
    calls = await harness.send(admin, "/orders refunded")
    assert "No orders with status refunded" in last_sent(calls).text


async def test_stats_counts_revenue_and_pool_health(harness: BotHarness, admin: FakeUser) -> None:
    customer = await Customer.create(telegram_id=600_300, full_name="Eve")
    await Order.create(
        customer=customer,
        package="starter",
        bot_name="A",
        amount=2900,
        paid_at=utcnow(),
        status=OrderStatus.ACTIVE,
    )
    await Order.create(
        customer=customer,
        package="pro",
        bot_name="B",
        amount=7900,
        paid_at=utcnow(),
        amount_refunded=7900,
        status=OrderStatus.REFUNDED,
    )
    await Order.create(customer=customer, package="pro", bot_name="C", amount=7900)
    await account(status=AccountStatus.BANNED)
    text = last_sent(await harness.send(admin, "/stats")).text
    assert "awaiting_payment 1" in text and "active 1" in text and "refunded 1" in text
    assert "29.00 USD" in text and "no usable creator account" in text
    await account("+15550000001", session="session-string")
    assert "1 usable account(s) ✅" in last_sent(await harness.send(admin, "/stats")).text


async def test_stats_pool_health_counts_the_accounts_the_pool_would_pick(
    harness: BotHarness, admin: FakeUser
) -> None:
    ended, later = utcnow() - timedelta(minutes=1), utcnow() + timedelta(hours=1)
    # usable: rests that are over, and an active account with a session
    await account("+15550000001", session="s", status=AccountStatus.COOLING_DOWN, cooldown_until=ended)
    await account("+15550000002", session="s", status=AccountStatus.LIMITED, cooldown_until=ended)
    await account("+15550000003", session="s")
    # not usable: still resting, and active without a session
    await account("+15550000004", session="s", status=AccountStatus.COOLING_DOWN, cooldown_until=later)
    await account("+15550000005")
    text = last_sent(await harness.send(admin, "/stats")).text
    assert "3 usable account(s) ✅" in text


async def test_stats_shows_model_tokens_and_cost_per_day_and_the_top_agents(
    harness: BotHarness, admin: FakeUser
) -> None:
    from models import Instance
    from services.model_gateway.usage import Tokens, record_usage

    customer = await Customer.create(telegram_id=600_301, full_name="Eve")
    busy = await Instance.create(customer=customer, bot_username="busy_bot")
    quiet = await Instance.create(customer=customer, bot_username="quiet_bot")
    await record_usage(busy.id, utcnow().date(), Tokens(2_000_000, 1_000_000, 1_000_000))
    await record_usage(quiet.id, utcnow().date(), Tokens(1_000, 0, 0))
    text = last_sent(await harness.send(admin, "/stats")).text
    today = utcnow().date()
    assert f"{today:%m-%d}: 3.0M tokens in 2 requests, ~$3.70" in text
    assert "this month: 3.0M tokens" in text
    assert text.index("@busy_bot") < text.index("@quiet_bot")


async def test_admin_chat_members_count_as_admins(harness: BotHarness) -> None:
    await account()
    stranger_in_admin_chat = FakeUser(id=123_456, first_name="Op")
    calls = await harness.send(stranger_in_admin_chat, "/accounts", chat_id=ADMIN_CHAT_ID)
    assert "Creator accounts" in joined(calls)


@pytest.mark.parametrize("command", ["/accounts", "/instances", "/instances all", "/orders", "/stats"])
async def test_non_admins_get_nothing_admin(harness: BotHarness, alice: FakeUser, command: str) -> None:
    await account()
    calls = await harness.send(alice, command)
    assert joined(calls) == texts.UNKNOWN


async def test_non_admin_pressing_forged_admin_buttons_changes_nothing(
    harness: BotHarness, alice: FakeUser
) -> None:
    acc = await account()
    for data in (
        AccountCb(action="disable", account_id=acc.id).pack(),
        InstanceCb(action="terminate_yes", instance_id=1).pack(),
        OrderListCb(status="all").pack(),
    ):
        calls = await harness.press(alice, data)
        assert [c.name for c in calls] == ["AnswerCallbackQuery"]
    assert (await TelegramAccount.get(id=acc.id)).status == AccountStatus.ACTIVE
    assert await Job.all().count() == 0 and await AdminAction.all().count() == 0


async def test_unknown_status_filters_fall_back_instead_of_failing(
    harness: BotHarness, admin: FakeUser
) -> None:
    await instance(InstanceStatus.ACTIVE, "kept_bot")
    calls = await harness.press(admin, InstanceListCb(status="bogus").pack())
    assert "kept_bot" in last_sent(calls).text and "active ·" in last_sent(calls).text
    calls = await harness.send(admin, "/instances nonsense")
    assert "kept_bot" in last_sent(calls).text
    calls = await harness.press(admin, OrderListCb(status="bogus").pack())
    assert "No orders" in last_sent(calls).text
