"""Payments that do not pay for their order: held for an admin, then approved or refunded.

A signed Stripe event that charged less than the price, in another currency, or that names an order
it was not created for is kept (never provisioned): the order, if any, goes to `needs_review` and the
admins get ONE alert with the order, the amounts and the Stripe ids. `approve_order` and
`refund_order` are the two ways out; the bot (/approve, /refund) and the CLI (`orders approve|refund`)
reach them through services/operations/orders.py, so both doors do exactly the same thing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from models import AlertSeverity, Order, OrderStatus
from services.jobs import kinds as job_kinds
from services.jobs.queue import JobQueue
from services.notifications.alerts import raise_alert
from services.payments.stripe_event_shape import as_int

REVIEW_ALERT = "stripe.needs_review"
# an order can be refunded from these: it holds money we have not earned (or an admin says so)
REFUNDABLE = (
    OrderStatus.NEEDS_REVIEW,
    OrderStatus.PAID,
    OrderStatus.PROVISIONING,
    OrderStatus.AWAITING_VERIFICATION,
    OrderStatus.ACTIVE,
    OrderStatus.FAILED,
    OrderStatus.EXPIRED,
    OrderStatus.CANCELLED,
)


class ReviewError(ValueError):
    """The admin's approve/refund cannot be done; the message says why."""


def review_text(
    event_id: str, session: dict[str, Any], order_id: int | None, problems: list[str], *, price: str = ""
) -> str:
    """The one alert an admin gets: what was paid, for what, and how to settle it."""
    where = f"Order {order_id}" if order_id else "No order"
    settle = (
        f"Approve with /approve {order_id} or refund with /refund {order_id} in the bot "
        f"(or `python main.py orders approve|refund {order_id}`)."
        if order_id
        else "Refund it in the Stripe dashboard if it is not yours to keep."
    )
    return (
        f"{where}: a Stripe payment was held, nothing was provisioned. "
        f"{'; '.join(problems)}. Charged {session.get('amount_total')} "
        f"{str(session.get('currency') or '?').upper()}{f' for a price of {price}' if price else ''}; "
        f"session {session.get('id') or '?'}, payment {payment_intent_of(session) or '?'}, "
        f"client_reference_id {session.get('client_reference_id') or '-'}, event {event_id}. {settle}"
    )


async def hold_for_review(
    queue: JobQueue,
    conn: Any,
    *,
    event_id: str,
    session: dict[str, Any],
    order: Order | None,
    problems: list[str],
    price: str = "",
) -> bool:
    """Inside the webhook's transaction: put `order` (when it can still take a payment) in
    needs_review with what was actually charged, and raise the one alert. Returns whether the order
    was moved."""
    moved = False
    if order is not None:
        moved = bool(
            await Order.filter(id=order.id, status__in=(OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED))
            .using_db(conn)
            .update(
                status=OrderStatus.NEEDS_REVIEW,
                amount=as_int(session.get("amount_total")),
                currency=str(session.get("currency") or "usd").lower()[:8],
                stripe_payment_intent=payment_intent_of(session),
                paid_at=datetime.now(UTC),
                closed_reason=("held for review: " + "; ".join(problems))[:1000],
            )
        )
    await raise_alert(
        queue,
        REVIEW_ALERT,
        review_text(event_id, session, order.id if order else None, problems, price=price),
        severity=AlertSeverity.CRITICAL,
        dedup_key=f"stripe:needs_review:{session.get('id') or event_id}",
        using_db=conn,
    )
    return moved


async def approve_order(queue: JobQueue, order_id: int, *, max_attempts: int = 8) -> Order:
    """An admin accepts a held payment: the order becomes paid and is provisioned (once)."""
    async with in_transaction() as conn:
        order = await Order.get_or_none(id=order_id).using_db(conn)
        if order is None:
            raise ReviewError(f"order {order_id} does not exist")
        moved = (
            await Order.filter(id=order_id, status=OrderStatus.NEEDS_REVIEW)
            .using_db(conn)
            .update(status=OrderStatus.PAID, closed_reason=None)
        )
        if not moved:
            raise ReviewError(
                f"order {order_id} is {order.status.value}, not needs_review: nothing to approve"
            )
        await queue.enqueue(
            job_kinds.PROVISION,
            {"order_id": order_id},
            key=f"provision:order:{order_id}",
            max_attempts=max_attempts,
            using_db=conn,
        )
    await order.refresh_from_db()
    return order


async def refund_order(queue: JobQueue, order_id: int, reason: str) -> Any:
    """Queue a full refund of an order's payment (the worker sends it to Stripe). Returns the job."""
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise ReviewError(f"order {order_id} does not exist")
    if order.paid_at is None or not order.stripe_payment_intent or order.status not in REFUNDABLE:
        raise ReviewError(f"order {order.id} is {order.status.value}: nothing to refund")
    if order.status == OrderStatus.NEEDS_REVIEW:
        # a held payment that is refunded is over: it can no longer be approved
        await Order.filter(id=order.id, status=OrderStatus.NEEDS_REVIEW).update(
            status=OrderStatus.CANCELLED, closed_reason=f"refunded after review: {reason}"[:1000]
        )
    return await queue.enqueue(
        job_kinds.REFUND_ORDER, {"order_id": order.id, "reason": reason}, key=f"refund:order:{order.id}"
    )


def payment_intent_of(obj: dict[str, Any]) -> str | None:
    pi = obj.get("payment_intent")
    if isinstance(pi, dict):  # expanded
        pi = pi.get("id")
    return str(pi)[:255] if pi else None
