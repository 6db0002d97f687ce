"""PaymentsService against the local Stripe stand-in, through the real StripeClient and STRIPE_API_BASE."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from models import Customer, Order, OrderStatus
from services.notifications.customer_text import decode
from services.payments.packages import DEFAULT_PACKAGES
from services.payments.stripe_api import (
    PaymentError,
    PaymentsService,
    close_stripe_client,
    make_stripe_client,
    session_window,
)
from tests.standins.stripe_api import StripeStandIn

BOT = "MeetMattTestBot"


@pytest.fixture
async def stripe_api():
    async with StripeStandIn() as standin:
        yield standin


@pytest.fixture
async def payments(stripe_api: StripeStandIn):
    settings = Settings(
        _env_file=None,
        stripe_secret_key=f"sk_test_{secrets.token_hex(12)}",
        stripe_api_base=stripe_api.base_url,
    )
    client = make_stripe_client(settings, timeout=5, max_network_retries=0)
    yield PaymentsService(client, DEFAULT_PACKAGES, bot_username=BOT)
    await close_stripe_client(client)


async def _order(package: str = "starter", telegram_id: int = 4242) -> Order:
    customer, _ = await Customer.get_or_create(telegram_id=telegram_id, defaults={"full_name": "Ann"})
    return await Order.create(customer=customer, package=package, bot_name="Ann's helper")


async def test_checkout_sends_the_fields_stripe_needs_and_stores_the_link(db, stripe_api, payments):
    order = await _order()
    link = await payments.create_checkout(order)

    [req] = stripe_api.requests_to("/v1/checkout/sessions")
    form = req.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "2900"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][product_data][name]"] == "Starter: Ann's helper"
    assert form["line_items[0][quantity]"] == "1"
    assert form["metadata[order_id]"] == str(order.id)
    assert form["metadata[userId]"] == "4242"
    assert form["metadata[botName]"] == "Ann's helper"
    assert form["metadata[packageType]"] == "starter"
    assert form["client_reference_id"] == str(order.id)
    assert form["success_url"] == f"https://t.me/{BOT}?start=paid_{order.id}"
    assert form["cancel_url"] == f"https://t.me/{BOT}?start=cancel_{order.id}"
    expires = int(form["expires_at"])
    now = datetime.now(UTC).timestamp()
    assert now + 30 * 60 <= expires <= now + 24 * 3600
    assert req.idempotency_key == f"meetmatt:checkout:order:{order.id}:{expires}"

    assert link.session_id.startswith("cs_test_") and link.session_id in stripe_api.sessions
    assert link.url == stripe_api.sessions[link.session_id]["url"]
    stored = await Order.get(id=order.id)
    assert (stored.stripe_session_id, stored.checkout_url) == (link.session_id, link.url)
    assert (stored.amount, stored.currency) == (2900, "usd")


async def test_retried_checkout_reuses_the_key_and_gets_the_same_session(db, stripe_api, payments):
    order = await _order()
    first = await payments.create_checkout(order)
    # a retry that lost the first answer: the order row does not know the session yet
    stale = await Order.get(id=order.id)
    stale.stripe_session_id = stale.checkout_url = None
    second = await payments.create_checkout(stale)

    reqs = stripe_api.requests_to("/v1/checkout/sessions")
    assert len(reqs) == 2 and reqs[0].idempotency_key == reqs[1].idempotency_key
    assert reqs[0].form == reqs[1].form
    assert second == first and len(stripe_api.sessions) == 1


async def test_checkout_returns_the_open_link_without_calling_stripe(db, stripe_api, payments):
    order = await _order()
    first = await payments.create_checkout(order)
    again = await payments.create_checkout(await Order.get(id=order.id))
    assert again == first
    assert len(stripe_api.requests_to("/v1/checkout/sessions")) == 1


async def test_checkout_refuses_a_closed_order_and_reports_stripe_errors(db, stripe_api, payments):
    order = await _order()
    order.status = OrderStatus.CANCELLED
    with pytest.raises(PaymentError, match="cancelled, not awaiting payment"):
        await payments.create_checkout(order)
    assert stripe_api.requests == []

    order = await _order(telegram_id=77)
    stripe_api.fail_next(503, "api_error", "Stripe is down")
    with pytest.raises(PaymentError, match="HTTP 503") as err:
        await payments.create_checkout(order)
    assert err.value.retryable
    assert (await Order.get(id=order.id)).stripe_session_id is None


def test_session_window_is_stable_within_a_window_and_moves_on_after():
    created = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ttl = timedelta(minutes=60)
    first = session_window(created, created + timedelta(minutes=1), ttl)
    assert first == created + ttl
    assert session_window(created, created + timedelta(minutes=25), ttl) == first
    later = session_window(created, created + timedelta(minutes=45), ttl)
    assert later == created + 2 * ttl
    assert later - (created + timedelta(minutes=45)) >= timedelta(minutes=30)


async def test_refund_is_idempotent_and_recorded_on_the_order(db, stripe_api, payments):
    order = await _order()
    link = await payments.create_checkout(order)
    paid = stripe_api.complete_session(link.session_id)
    order = await Order.get(id=order.id)
    order.status, order.stripe_payment_intent = OrderStatus.PAID, paid["payment_intent"]
    await order.save()

    refund_id = await payments.refund(order, "provisioning failed")
    again = await payments.refund(await Order.get(id=order.id), "provisioning failed")

    assert again == refund_id and len(stripe_api.refunds) == 1
    reqs = stripe_api.requests_to("/v1/refunds")
    assert [r.idempotency_key for r in reqs] == [f"meetmatt:refund:order:{order.id}"] * 2
    assert reqs[0].form["payment_intent"] == paid["payment_intent"]
    stored = await Order.get(id=order.id)
    assert stored.amount_refunded == 2900 and stored.status == OrderStatus.REFUNDED
    assert "provisioning failed" in stored.closed_reason


async def test_refund_without_a_payment_is_refused(db, stripe_api, payments):
    order = await _order()
    with pytest.raises(PaymentError, match="no recorded payment"):
        await payments.refund(order, "x")
    assert stripe_api.requests == []


async def test_refund_job_refunds_once_and_tells_the_customer_once(db, stripe_api, payments):
    from models import Job
    from services.jobs.kinds import NOTIFY_CUSTOMER
    from services.jobs.queue import JobQueue
    from services.payments.stripe_api import run_refund_job

    order = await _order()
    link = await payments.create_checkout(order)
    paid = stripe_api.complete_session(link.session_id)
    await Order.filter(id=order.id).update(
        status=OrderStatus.PAID, stripe_payment_intent=paid["payment_intent"]
    )
    queue = JobQueue("test")

    refund_id = await run_refund_job(payments, queue, {"order_id": order.id, "reason": "saga dead"})
    again = await run_refund_job(payments, queue, {"order_id": order.id, "reason": "saga dead"})

    assert refund_id.startswith("re_") and again == "" and len(stripe_api.refunds) == 1
    assert len(stripe_api.requests_to("/v1/refunds")) == 1  # the second run saw the recorded refund
    [message] = await Job.filter(kind=NOTIFY_CUSTOMER)
    text = decode(message.payload["text"]).english()  # a Text: the bot renders it in the customer's language
    assert message.payload["chat_id"] == 4242 and "$29.00" in text
    assert "<b>Ann's helper</b> has been refunded" in text
    with pytest.raises(PaymentError, match="does not exist"):
        await run_refund_job(payments, queue, {"order_id": 999999, "reason": "x"})


async def test_an_old_link_is_reused_while_open_and_replaced_once_expired(db, stripe_api, payments):
    order = await _order()
    created = datetime.now(UTC) - timedelta(hours=3)
    await Order.filter(id=order.id).update(created_at=created)
    order = await Order.get(id=order.id)
    first = await payments.create_checkout(order)

    # past the first window Stripe is asked; the session is still open, so it is reused
    again = await payments.create_checkout(await Order.get(id=order.id))
    assert again == first
    assert [r.method for r in stripe_api.requests] == ["POST", "GET"]

    stripe_api.sessions[first.session_id]["status"] = "expired"
    later = datetime.now(UTC) + timedelta(hours=1)  # the next window: a new key, a new session
    replaced = await payments.create_checkout(await Order.get(id=order.id), now=later)
    assert replaced.session_id != first.session_id and len(stripe_api.sessions) == 2
    posts = stripe_api.requests_to("/v1/checkout/sessions")
    assert len(posts) == 2 and posts[0].idempotency_key != posts[1].idempotency_key
    assert (await Order.get(id=order.id)).stripe_session_id == replaced.session_id

    stripe_api.complete_session(replaced.session_id)
    with pytest.raises(PaymentError, match="already paid"):
        await payments.create_checkout(await Order.get(id=order.id), now=later)


async def test_the_refund_handler_dies_at_once_on_a_refusal_and_retries_an_outage(db, stripe_api, payments):
    from services.jobs.queue import Claimed, JobQueue
    from services.jobs.worker import PermanentError
    from services.payments.stripe_api import handle_refund_job

    queue = JobQueue("test")
    order = await _order()
    link = await payments.create_checkout(order)
    paid = stripe_api.complete_session(link.session_id)
    await Order.filter(id=order.id).update(
        status=OrderStatus.PAID, stripe_payment_intent=paid["payment_intent"]
    )
    claimed = Claimed(await queue.enqueue("refund_order", {"order_id": order.id, "reason": "saga dead"}), "x")

    with pytest.raises(PermanentError, match="STRIPE_SECRET_KEY is not set"):
        await handle_refund_job(None, queue, claimed)
    stripe_api.fail_next(503, "api_error", "Stripe is down")
    with pytest.raises(PaymentError, match="HTTP 503") as outage:
        await handle_refund_job(payments, queue, claimed)
    assert outage.value.retryable and not isinstance(outage.value, PermanentError)
    missing = Claimed(await queue.enqueue("refund_order", {"order_id": 999_999}), "x")
    with pytest.raises(PermanentError, match="order 999999 does not exist"):
        await handle_refund_job(payments, queue, missing)
    await handle_refund_job(payments, queue, claimed)  # Stripe is back: the retry refunds
    assert len(stripe_api.refunds) == 1
