"""Attack: pay an order's own Checkout Session with less than its price (an amount tampered before
Stripe, a partial coupon, a 100 % coupon) and get the agent anyway."""

from __future__ import annotations

from models import Job, Order, OrderStatus
from services.jobs.kinds import PROVISION
from tests.security.payments import assert_held_with_one_alert
from tests.webhooks.conftest import make_event, paid_session


async def test_an_underpaid_session_is_held_for_review_with_one_alert(server, order):
    session = paid_session(order, amount=100)
    event = make_event("checkout.session.completed", session)
    status, body = await server.post_event(event)
    again, _ = await server.post_event(make_event("checkout.session.async_payment_succeeded", session))

    assert (status, body["outcome"], again) == (200, "needs_review", 200)
    alert = await assert_held_with_one_alert(event["id"])
    held = await Order.get(id=order.id)
    assert held.status == OrderStatus.NEEDS_REVIEW
    assert (held.amount, held.stripe_payment_intent) == (100, session["payment_intent"])
    for shown in (
        f"Order {order.id}",
        "charged 100, the price is 2900",
        session["id"],
        session["payment_intent"],
        event["id"],
        f"/approve {order.id}",
    ):
        assert shown in alert.text


async def test_a_full_coupon_is_not_a_payment(server, order):
    session = {
        **paid_session(order, amount=0, payment_status="no_payment_required"),
        "total_details": {"amount_discount": 2900},
    }
    event = make_event("checkout.session.completed", session)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "needs_review")
    alert = await assert_held_with_one_alert(event["id"])
    assert "does not accept discounts" in alert.text
    assert (await Order.get(id=order.id)).status == OrderStatus.NEEDS_REVIEW


async def test_a_payment_link_for_less_than_the_package_makes_a_held_order(server):
    session = paid_session(None, package="pro", amount=2900)  # the pro package costs 7900
    event = make_event("checkout.session.completed", session)
    status, body = await server.post_event(event)

    assert (status, body["outcome"]) == (200, "needs_review")
    await assert_held_with_one_alert(event["id"])
    [held] = await Order.all()
    assert (held.status, held.package, held.amount) == (OrderStatus.NEEDS_REVIEW, "pro", 2900)


async def test_the_full_price_still_provisions_exactly_once(server, order):
    session = paid_session(order, amount=2900)
    events = [
        make_event("checkout.session.completed", session),
        make_event("checkout.session.async_payment_succeeded", session),
    ]
    outcomes = [(await server.post_event(e))[1]["outcome"] for e in events]

    assert outcomes == ["paid", "already_paid"]
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert await Job.filter(kind=PROVISION, key=f"provision:order:{order.id}").count() == 1
