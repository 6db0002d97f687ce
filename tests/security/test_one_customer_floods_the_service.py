"""Attack: one customer opens order after order without paying (each one a Checkout Session at
Stripe and rows here), or piles up so many that /mybots floods their chat and our sending quota."""

from __future__ import annotations

import time

from bot import texts
from bot.callbacks import MyBotsCb, OrderCb
from models import Customer, Order, OrderStatus
from tests.bot.harness import BotHarness, FakeUser, joined, last_sent
from tests.handlers.test_customer_order import walk_to_summary
from tests.webhooks.conftest import make_event, paid_session


async def unpaid_orders(user: FakeUser, count: int) -> list[Order]:
    customer, _ = await Customer.get_or_create(telegram_id=user.id)
    return [
        await Order.create(
            customer=customer,
            package="starter",
            bot_name=f"Spam {n}",
            stripe_session_id=f"cs_test_spam_{user.id}_{n}",
            checkout_url=f"https://pay.example/{n}",
            amount=2900,
        )
        for n in range(count)
    ]


async def test_a_fourth_unpaid_order_is_refused_with_a_clear_answer(
    harness: BotHarness, alice: FakeUser, stripe_api
):
    await walk_to_summary(harness, alice)  # the dialogue started while there was still room
    await unpaid_orders(alice, 3)
    calls = await harness.press(alice, OrderCb(action="confirm").pack())
    assert texts.TOO_MANY_UNPAID.format(count=3) in joined(calls)
    refused = await harness.send(alice, "/new")
    assert texts.TOO_MANY_UNPAID.format(count=3) in joined(refused)
    assert await Order.all().count() == 3 and stripe_api.requests_to("/v1/checkout/sessions") == []


async def test_an_expired_checkout_frees_a_slot(harness: BotHarness, alice: FakeUser, server):
    first, *_ = await unpaid_orders(alice, 3)
    expired = {**paid_session(first, payment_status="unpaid"), "status": "expired"}
    status, body = await server.post_event(make_event("checkout.session.expired", expired))
    assert (status, body["outcome"]) == (200, "order_closed")
    assert (await Order.get(id=first.id)).status == OrderStatus.CANCELLED
    calls = await harness.send(alice, "/new")
    assert texts.ASK_PACKAGE in joined(calls)


async def test_checkout_sessions_ask_stripe_to_expire_within_the_hour(
    harness: BotHarness, alice: FakeUser, stripe_api
):
    await walk_to_summary(harness, alice)
    before = time.time()
    await harness.press(alice, OrderCb(action="confirm").pack())
    [request] = stripe_api.requests_to("/v1/checkout/sessions")
    assert before + 30 * 60 <= int(request.form["expires_at"]) <= before + 61 * 60


async def test_mybots_is_one_message_with_pages_however_many_orders(harness: BotHarness, alice: FakeUser):
    customer = await Customer.create(telegram_id=alice.id)
    for n in range(23):  # e.g. paid orders still being set up, or held for review
        await Order.create(
            customer=customer, package="starter", bot_name=f"Agent {n}", status=OrderStatus.PAID
        )
    calls = await harness.send(alice, "/mybots")
    [listing] = [c for c in calls if c.name == "SendMessage"]
    assert "(23)" in listing.text and "Page 1 of 5" in listing.text and "Agent 4" in listing.text
    assert "Agent 5" not in listing.text

    later = await harness.press(alice, listing.button("Next").callback_data)
    edited = last_sent(later)
    assert edited.name == "EditMessageText" and "Page 2 of 5" in edited.text and "Agent 5" in edited.text
    assert [c for c in later if c.name == "SendMessage"] == []

    forged = await harness.press(alice, MyBotsCb(page=999).pack())
    assert "Page 5 of 5" in last_sent(forged).text and "Agent 22" in last_sent(forged).text
