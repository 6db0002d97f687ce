"""Attack: pay the right number in a cheaper currency (2900 JPY for a 2900 USD cents order)."""

from __future__ import annotations

from models import Order, OrderStatus
from tests.security.payments import assert_held_with_one_alert
from tests.webhooks.conftest import make_event, paid_session


async def test_a_payment_in_another_currency_is_held_for_review(server, order):
    session = {**paid_session(order, amount=2900), "currency": "jpy"}
    event = make_event("checkout.session.completed", session)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "needs_review")
    alert = await assert_held_with_one_alert(event["id"])
    assert "charged in JPY, the price is in USD" in alert.text
    held = await Order.get(id=order.id)
    assert (held.status, held.currency) == (OrderStatus.NEEDS_REVIEW, "jpy")
