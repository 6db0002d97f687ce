"""Attack: ask for the username of a live customer's bot (typed, or raced in before Confirm), so
that the saga later recovers that bot's token or deletes it."""

from __future__ import annotations

import asyncio

from bot import texts
from bot.callbacks import OrderCb, PackageCb
from bot.states import OrderForm
from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from tests.bot.harness import BotHarness, FakeUser, joined
from tests.e2e.bot_fixtures import LiveBot
from tests.handlers.test_customer_order import state_of, walk_to_summary

LIVE = "ann_helper_bot"


async def live_agent(username: str = LIVE) -> Instance:
    ann = await Customer.create(telegram_id=700_001, full_name="Ann")
    order = await Order.create(
        customer=ann, package="starter", bot_name="Ann", bot_username=username, status=OrderStatus.ACTIVE
    )
    return await Instance.create(
        order=order, customer=ann, status=InstanceStatus.ACTIVE, bot_username=username
    )


async def test_a_typed_username_of_a_live_bot_is_refused_in_the_dialogue(
    harness: BotHarness, alice: FakeUser
):
    await live_agent()
    await harness.send(alice, "/new")
    await harness.press(alice, PackageCb(code="starter").pack())
    await harness.send(alice, "Copycat")
    calls = await harness.send(alice, "@Ann_Helper_Bot")

    assert "already taken by another Meet Matt agent" in joined(calls)
    assert await state_of(harness, alice) == OrderForm.username.state
    ok = await harness.send(alice, "copycat_own_bot")
    assert "already taken" not in joined(ok)


async def test_a_username_taken_after_it_was_typed_is_refused_at_confirm(
    harness: BotHarness, alice: FakeUser
):
    await walk_to_summary(harness, alice, username=LIVE)
    await live_agent()  # another customer's order got there first
    calls = await harness.press(alice, OrderCb(action="confirm").pack())

    assert "already taken by another Meet Matt agent" in joined(calls)
    assert await Order.filter(customer__telegram_id=alice.id).count() == 0


async def test_a_released_username_can_be_ordered_again(harness: BotHarness, alice: FakeUser):
    instance = await live_agent()
    await Order.filter(id=instance.order_id).update(status=OrderStatus.FAILED)
    await Instance.filter(id=instance.id).update(status=InstanceStatus.TERMINATED)
    await walk_to_summary(harness, alice, username=LIVE)
    await harness.press(alice, OrderCb(action="confirm").pack())
    assert await Order.filter(customer__telegram_id=alice.id, bot_username=LIVE).count() == 1


async def test_over_telegram_a_second_customer_asking_for_a_live_bots_username_is_refused(
    live_bot: LiveBot,
) -> None:
    """The same through the real aiogram stack and telegram-test-api, polling and webhook mode."""
    await live_agent()
    bob = live_bot.user(810_077, "Bob")
    try:
        await bob.say("/start", "Hi ")
        await bob.tap(texts.BTN_ORDER, texts.ASK_PACKAGE)
        await bob.tap("Starter", "display name")
        await bob.say("Copycat", "Free suggestion")
        refused = await bob.say(LIVE, "already taken by another Meet Matt agent")
        assert f"@{LIVE}" in refused.text
        await bob.say("bob_own_helper_bot", "Is everything right?")
    finally:
        await bob.close()
    assert await Order.filter(customer__telegram_id=bob.user["id"]).count() == 0


async def test_two_customers_confirming_the_same_username_at_once_get_one_order_between_them(db) -> None:
    """Both pass the check before either order exists: only one Confirm may take the username."""
    from services.orders.ordering import OrderDraft, OrderError, save_draft
    from services.payments.packages import DEFAULT_PACKAGES

    ann = await Customer.create(telegram_id=700_011, full_name="Ann")
    bob = await Customer.create(telegram_id=700_012, full_name="Bob")
    draft = OrderDraft(package="starter", bot_name="Twin", bot_username="twin_agent_bot")
    results = await asyncio.gather(
        save_draft(ann, draft, DEFAULT_PACKAGES, None),
        save_draft(bob, draft, DEFAULT_PACKAGES, None),
        return_exceptions=True,
    )
    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OrderError)]
    assert len(orders) == 1 and len(refused) == 1, results
    assert "already taken" in str(refused[0])
    assert await Order.filter(bot_username__iexact="twin_agent_bot").count() == 1
