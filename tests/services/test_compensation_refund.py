"""What a failed order's customer is promised about their money (REFUND_ON_FAILURE): a refund only
when there is a captured payment to refund, by the same checks an admin's refund passes."""

from __future__ import annotations

from dataclasses import dataclass

from models import Customer, Job, Order, OrderStatus
from services.jobs import kinds as job_kinds
from services.jobs.queue import JobQueue, utcnow
from services.provisioning.compensation import _refund_or_promise


@dataclass
class Deps:
    queue: JobQueue
    refund_on_failure: bool = True


async def failed_order(*, payment_intent: str | None, amount: int) -> Order:
    customer = await Customer.create(telegram_id=777_001, full_name="Ann")
    return await Order.create(
        customer=customer,
        package="month",
        bot_name="Ann's agent",
        status=OrderStatus.FAILED,
        paid_at=utcnow(),
        amount=amount,
        currency="usd",
        stripe_payment_intent=payment_intent,
    )


async def test_a_paid_order_that_failed_is_refunded_and_the_customer_told_so(db: str) -> None:
    order = await failed_order(payment_intent="pi_123", amount=2900)
    told, note = await _refund_or_promise(Deps(JobQueue()), order, "EC2 launch failed")
    assert "refunding your payment in full" in told.render(str, escape=False)
    assert note == "refund queued (REFUND_ORDER)"
    refund = await Job.get(kind=job_kinds.REFUND_ORDER)
    assert refund.payload == {"order_id": order.id, "reason": "EC2 launch failed"}


async def test_an_order_with_no_captured_payment_is_not_promised_a_refund(db: str) -> None:
    # a 100 % discount completes checkout with no payment intent: there is nothing to send back,
    # and a queued refund would only die at Stripe after the customer was told "refunding"
    order = await failed_order(payment_intent=None, amount=0)
    told, note = await _refund_or_promise(Deps(JobQueue()), order, "EC2 launch failed")
    words = told.render(str, escape=False)
    assert "refunding" not in words and "retry or refund" in words
    assert note.startswith("no refund queued:") and "nothing to refund" in note
    assert await Job.filter(kind=job_kinds.REFUND_ORDER).count() == 0
