"""From the Pay button to a paid order: a Checkout Session made through the Stripe stand-in, then the
webhook Stripe would send for it once paid, on the real server."""

from __future__ import annotations

import secrets

from models import Customer, Job, Order, OrderStatus
from services.jobs.kinds import PROVISION
from services.payments.packages import DEFAULT_PACKAGES
from services.payments.stripe_api import PaymentsService, close_stripe_client, make_stripe_client
from tests.standins.stripe_api import StripeStandIn
from tests.webhooks.conftest import make_event, webhook_settings


async def test_a_session_created_through_stripe_and_then_paid_provisions_the_order(db, server):
    async with StripeStandIn() as stripe_api:
        settings = webhook_settings(
            stripe_secret_key=f"sk_test_{secrets.token_hex(12)}", stripe_api_base=stripe_api.base_url
        )
        client = make_stripe_client(settings, timeout=5)
        try:
            payments = PaymentsService(client, DEFAULT_PACKAGES, bot_username="MeetMattBot")
            customer = await Customer.create(telegram_id=31337)
            order = await Order.create(customer=customer, package="pro", bot_name="Research buddy")
            link = await payments.create_checkout(order)
        finally:
            await close_stripe_client(client)
        session = stripe_api.complete_session(link.session_id)

    status, body = await server.post_event(make_event("checkout.session.completed", session))

    assert (status, body["outcome"]) == (200, "paid")
    paid = await Order.get(id=order.id)
    assert paid.status == OrderStatus.PAID and (paid.amount, paid.currency) == (7900, "usd")
    assert paid.stripe_session_id == link.session_id
    assert paid.stripe_payment_intent == session["payment_intent"]
    assert session["metadata"] == {
        "order_id": str(order.id),
        "userId": "31337",
        "botName": "Research buddy",
        "packageType": "pro",
    }
    assert await Job.filter(kind=PROVISION, key=f"provision:order:{order.id}").count() == 1
