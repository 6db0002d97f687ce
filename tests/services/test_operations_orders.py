"""services/operations/orders: approve and refund a held payment through services/payments/review,
each audited the same from the bot and the CLI; a refused action leaves no record."""

from __future__ import annotations

import pytest

from models import AdminAction, Job, Order, OrderStatus
from services.jobs.kinds import PROVISION, REFUND_ORDER
from services.jobs.queue import JobQueue
from services.operations import orders as operations
from services.operations.audit import Actor, NotFound, Refused
from tests.security.test_a_held_payment_is_settled_only_by_an_admin import held_order

ADA = Actor(900_001, "@ada")


async def test_approve_pays_the_order_queues_provisioning_once_and_records_it(db: str) -> None:
    order = await held_order(5)
    done = await operations.approve(JobQueue("test"), order.id, Actor.cli(), max_attempts=3)
    assert done.order.status == OrderStatus.PAID
    assert (await Job.get(kind=PROVISION)).max_attempts == 3
    assert (done.audit.admin_telegram_id, done.audit.action, done.audit.target) == (
        None,
        "approve_order",
        f"order #{order.id}",
    )
    with pytest.raises(Refused, match="is paid, not needs_review"):
        await operations.approve(JobQueue("test"), order.id, ADA, max_attempts=3)
    assert await AdminAction.all().count() == 1 and await Job.filter(kind=PROVISION).count() == 1


async def test_refund_closes_a_held_order_queues_the_refund_and_records_the_reason(db: str) -> None:
    order = await held_order(5)
    done = await operations.refund(JobQueue("test"), order.id, ADA, reason="refunded by an admin")
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    job = await Job.get(kind=REFUND_ORDER)
    assert job.payload == {"order_id": order.id, "reason": "refunded by an admin"} and done.job.id == job.id
    assert (done.audit.admin_telegram_id, done.audit.action, done.audit.detail) == (
        ADA.telegram_id,
        "refund_order",
        f"job #{job.id}; reason: refunded by an admin",
    )
    with pytest.raises(Refused, match="nothing to approve"):
        await operations.approve(JobQueue("test"), order.id, ADA, max_attempts=3)


@pytest.mark.parametrize("order_id", [999, 0, 2**31, 10**20])
async def test_an_unknown_order_is_not_found_from_either_action(db: str, order_id: int) -> None:
    with pytest.raises(NotFound, match=f"order {order_id} does not exist"):
        await operations.approve(JobQueue("test"), order_id, ADA, max_attempts=3)
    with pytest.raises(NotFound, match=f"order {order_id} does not exist"):
        await operations.refund(JobQueue("test"), order_id, ADA, reason="x")
    assert await AdminAction.all().count() == 0 and await Job.all().count() == 0
