"""Payments held for review: approve one (the order is paid and provisioned) or refund an order.
The rules are services/payments/review.py's; this adds the bounds check and the audit record."""

from __future__ import annotations

from dataclasses import dataclass

from models import AdminAction, Job, Order
from services.jobs.queue import JobQueue
from services.operations.audit import Actor, NotFound, Refused, record, valid_id
from services.payments.review import ReviewError, approve_order, refund_order


@dataclass(frozen=True)
class Approved:
    order: Order
    audit: AdminAction


@dataclass(frozen=True)
class RefundQueued:
    job: Job
    audit: AdminAction


async def _known(order_id: int) -> None:
    if not valid_id(order_id) or not await Order.exists(id=order_id):
        raise NotFound(f"order {order_id} does not exist")


async def approve(queue: JobQueue, order_id: int, actor: Actor, *, max_attempts: int) -> Approved:
    """Accept a payment held for review: the order becomes paid and its provisioning is queued (once)."""
    await _known(order_id)
    try:
        order = await approve_order(queue, order_id, max_attempts=max_attempts)
    except ReviewError as exc:
        raise Refused(str(exc)) from None
    return Approved(order, await record(actor, "approve_order", f"order #{order_id}"))


async def refund(queue: JobQueue, order_id: int, actor: Actor, *, reason: str) -> RefundQueued:
    """Queue a full refund of an order's payment (once per order); the worker sends it to Stripe."""
    await _known(order_id)
    try:
        job = await refund_order(queue, order_id, reason)
    except ReviewError as exc:
        raise Refused(str(exc)) from None
    detail = f"job #{job.id}; reason: {reason[:500]}"
    return RefundQueued(job, await record(actor, "refund_order", f"order #{order_id}", detail))
