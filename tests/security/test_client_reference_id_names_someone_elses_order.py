"""Attack: open a cheap Payment Link with `?client_reference_id=<an order>` (Stripe copies it from
the URL), or replay another session that carries an order id in its metadata, to get that order
marked paid and provisioned."""

from __future__ import annotations

from models import Order, OrderStatus
from tests.security.payments import assert_held_with_one_alert
from tests.webhooks.conftest import make_event, paid_session


async def test_client_reference_id_alone_selects_no_order(server, order):
    link = paid_session(
        None,
        session_id="cs_test_cheap_link",
        amount=2900,
        metadata={"userId": "777", "botName": "Link", "packageType": "starter"},
    )
    link["client_reference_id"] = str(order.id)
    event = make_event("checkout.session.completed", link)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "needs_review")
    alert = await assert_held_with_one_alert(event["id"])
    assert f"names order {order.id}" in alert.text and "cs_test_cheap_link" in alert.text
    untouched = await Order.get(id=order.id)
    assert (untouched.status, untouched.paid_at, untouched.stripe_payment_intent) == (
        OrderStatus.AWAITING_PAYMENT,
        None,
        None,
    )
    assert await Order.all().count() == 1


async def test_another_sessions_metadata_order_id_selects_no_order(server, order):
    other = paid_session(order, session_id="cs_test_not_this_orders")  # metadata.order_id = order.id
    event = make_event("checkout.session.completed", other)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "needs_review")
    await assert_held_with_one_alert(event["id"])
    assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT


async def test_an_expiry_naming_the_order_does_not_close_it(server, order):
    order.stripe_session_id = None
    await order.save()
    foreign = {
        **paid_session(None, session_id="cs_test_foreign", payment_status="unpaid"),
        "client_reference_id": str(order.id),
        "status": "expired",
    }
    status, body = await server.post_event(make_event("checkout.session.expired", foreign))
    assert (status, body["outcome"]) == (200, "stale")
    assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT
