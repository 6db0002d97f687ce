"""StripeEventProcessor without HTTP: metadata rules, outcomes and the edge cases of the paid path."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from models import Alert, AlertSeverity, Customer, Job, Order, OrderStatus, StripeEvent
from services.jobs.kinds import PROVISION
from services.jobs.queue import JobQueue
from services.payments.check import parse_metadata
from services.payments.packages import DEFAULT_PACKAGES
from services.payments.stripe_events import InvalidEvent, StripeEventProcessor, event_fields
from tests.webhooks.conftest import make_event, paid_session


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"userId": "42", "botName": "Helper", "packageType": "starter"}, ""),
        ({"userId": " 42 ", "botName": " Helper ", "packageType": "pro"}, ""),
        (None, "no metadata"),
        ({}, "no metadata"),
        ({"userId": "-5", "botName": "x", "packageType": "starter"}, "userId"),
        ({"userId": "4.2", "botName": "x", "packageType": "starter"}, "userId"),
        ({"userId": "99999999999999999999", "botName": "x", "packageType": "starter"}, "userId"),
        ({"userId": "42", "botName": "x" * 65, "packageType": "starter"}, "botName"),
        ({"userId": "42", "botName": "x"}, "packageType"),
        ({"userId": "42", "botName": "x", "packageType": "Starter"}, "packageType"),
    ],
)
def test_parse_metadata_accepts_only_what_can_make_an_order(metadata, problem):
    parsed, reason = parse_metadata(metadata, DEFAULT_PACKAGES)
    if problem:
        assert parsed is None and problem in reason
    else:
        assert parsed is not None and reason == ""
        assert (parsed.telegram_id, parsed.bot_name) == (42, "Helper")


@pytest.mark.parametrize(
    "event",
    [
        [],
        "evt",
        {"type": "x", "data": {"object": {}}},
        {"id": "evt_1", "data": {"object": {}}},
        {"id": "evt_1", "type": "x"},
        {"id": "evt_1", "type": "x", "data": {"object": []}},
        {"id": "e" * 256, "type": "x", "data": {"object": {}}},
    ],
)
def test_event_fields_refuses_what_is_not_an_event(event):
    with pytest.raises(InvalidEvent):
        event_fields(event)


@pytest.fixture
async def processor(db: str) -> StripeEventProcessor:
    return StripeEventProcessor(JobQueue("test"), DEFAULT_PACKAGES)


@pytest.fixture
async def order(db: str) -> Order:
    customer = await Customer.create(telegram_id=4242)
    return await Order.create(
        customer=customer, package="starter", bot_name="Helper", stripe_session_id="cs_test_first"
    )


async def test_paid_event_rows_read_back_with_real_timestamps(processor, order):
    before = datetime.now(UTC) - timedelta(seconds=1)
    result = await processor.process(make_event("checkout.session.completed", paid_session(order)))
    assert result.outcome == "paid" and result.order_id == order.id
    paid = await Order.get(id=order.id)
    row = await StripeEvent.get(event_id=result.event_id)
    job = await Job.get(kind=PROVISION)
    for stamp in (
        paid.paid_at,
        paid.updated_at,
        row.received_at,
        row.processed_at,
        job.run_after,
        job.created_at,
    ):
        assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)
    assert (job.state, job.attempts, job.max_attempts, job.status.value) == ({}, 0, 8, "pending")


async def test_a_cancelled_order_that_gets_paid_is_paid_and_an_existing_job_is_kept(processor, order):
    await Order.filter(id=order.id).update(status=OrderStatus.CANCELLED, closed_reason="expired")
    existing = await JobQueue("test").enqueue(
        PROVISION, {"order_id": order.id}, key=f"provision:order:{order.id}"
    )
    result = await processor.process(make_event("checkout.session.completed", paid_session(order)))
    assert result.outcome == "paid"
    paid = await Order.get(id=order.id)
    assert paid.status == OrderStatus.PAID and paid.closed_reason is None
    assert [j.id for j in await Job.filter(kind=PROVISION)] == [existing.id]


async def test_a_second_session_paid_for_a_paid_order_is_held_for_review(processor, order):
    await processor.process(make_event("checkout.session.completed", paid_session(order)))
    result = await processor.process(
        make_event("checkout.session.completed", paid_session(order, session_id="cs_test_second"))
    )
    assert result.outcome == "needs_review"
    assert (await StripeEvent.get(event_id=result.event_id)).outcome == "needs_review"
    [alert] = await Alert.filter(kind="stripe.needs_review")
    assert alert.severity == AlertSeverity.CRITICAL and "cs_test_second" in alert.text
    assert await Job.filter(kind=PROVISION).count() == 1
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_no_payment_required_counts_as_paid_only_where_the_package_takes_discounts(db, order):
    coupon = {
        **paid_session(order, payment_status="no_payment_required", amount=0),
        "total_details": {"amount_discount": 2900},
    }
    strict = StripeEventProcessor(JobQueue("test"), DEFAULT_PACKAGES)
    assert (await strict.process(make_event("checkout.session.completed", coupon))).outcome == "needs_review"

    await Order.filter(id=order.id).update(status=OrderStatus.AWAITING_PAYMENT)
    generous = tuple(replace(p, allow_discounts=True) for p in DEFAULT_PACKAGES)
    lenient = StripeEventProcessor(JobQueue("test"), generous)
    result = await lenient.process(make_event("checkout.session.completed", coupon))
    assert result.outcome == "paid" and await Job.filter(kind=PROVISION).count() == 1


async def test_events_for_orders_we_do_not_have_are_kept_without_effect(processor):
    expired = await processor.process(
        make_event(
            "checkout.session.expired",
            paid_session(None, metadata={}, session_id="cs_test_unknown", payment_status="unpaid"),
        )
    )
    refund = await processor.process(
        make_event(
            "charge.refunded",
            {
                "id": "ch_1",
                "amount": 100,
                "amount_refunded": 100,
                "refunded": True,
                "payment_intent": "pi_nope",
            },
        )
    )
    assert (expired.outcome, refund.outcome) == ("order_not_found", "order_not_found")
    assert sorted(await StripeEvent.all().values_list("outcome", flat=True)) == ["order_not_found"] * 2
    assert await Job.all().count() == 0 and await Order.all().count() == 0


async def test_a_refund_is_matched_by_metadata_when_the_payment_intent_is_not_ours(processor, order):
    charge = {
        "id": "ch_2",
        "amount": 2900,
        "amount_refunded": 2900,
        "refunded": True,
        "payment_intent": "pi_other",
        "metadata": {"order_id": str(order.id)},
    }
    result = await processor.process(make_event("charge.refunded", charge))
    assert result.outcome == "refunded"
    refunded = await Order.get(id=order.id)
    assert (refunded.status, refunded.amount_refunded) == (OrderStatus.REFUNDED, 2900)
    # never paid here, so nobody needs to stop an agent
    assert await Alert.all().count() == 0


async def test_a_session_whose_metadata_names_another_order_is_held_not_applied(processor, order):
    other = await Order.create(
        customer_id=order.customer_id, package="starter", bot_name="Other", stripe_session_id="cs_test_taken"
    )
    event = make_event("checkout.session.completed", paid_session(order, session_id="cs_test_taken"))
    result = await processor.process(event)
    assert result.outcome == "needs_review"
    assert (await Order.get(id=order.id)).status == OrderStatus.AWAITING_PAYMENT
    assert (await Order.get(id=other.id)).status == OrderStatus.NEEDS_REVIEW
    assert (await StripeEvent.get(event_id=event["id"])).outcome == "needs_review"
    [alert] = await Alert.filter(kind="stripe.needs_review")
    assert event["id"] in alert.text and alert.severity == AlertSeverity.CRITICAL
    assert await Job.filter(kind=PROVISION).count() == 0
    again = await processor.process(event)  # Stripe's redelivery: answered, nothing more
    assert again.duplicate and await Alert.all().count() == 1


async def test_an_expired_checkout_tells_a_russian_customer_in_russian_with_the_bot_name_escaped(processor):
    from aiogram.methods import SendMessage

    from bot.factory import create_bot
    from bot.messenger import AiogramMessenger
    from services.notifications.customers import deliver_customer_message
    from tests.bot.fixtures import make_settings
    from tests.bot.harness import RecordingSession

    customer = await Customer.create(telegram_id=4343, language="ru")
    order = await Order.create(
        customer=customer, package="starter", bot_name="<b>Хелпер</b>", stripe_session_id="cs_test_ru"
    )
    result = await processor.process(
        make_event(
            "checkout.session.expired", paid_session(order, session_id="cs_test_ru", payment_status="unpaid")
        )
    )
    assert result.outcome == "order_closed"
    [job] = await Job.filter(kind="notify_customer")
    session = RecordingSession()
    messenger = AiogramMessenger(create_bot(make_settings(), session=session))
    await deliver_customer_message(messenger, job.payload)
    [sent] = [c.method for c in session.calls if isinstance(c.method, SendMessage)]
    assert sent.chat_id == 4343
    assert sent.text.startswith("Ссылка на оплату <b>&lt;b&gt;Хелпер&lt;/b&gt;</b> истекла")
