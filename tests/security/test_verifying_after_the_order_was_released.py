"""Attack: open the deep link after the order was given up (its server terminated, the order failed
or refunded) or replay another order's code, hoping to switch an agent on or spend the attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import Customer, Instance, InstanceStatus, Order, OrderStatus, Verification
from services.jobs.queue import utcnow
from services.provisioning.verification import StartOutcome, Verifier

OWNER = 940_001


async def open_check(order_status: OrderStatus, instance_status: InstanceStatus) -> Verification:
    customer = await Customer.create(telegram_id=OWNER)
    order = await Order.create(customer=customer, package="starter", bot_name="Kim", status=order_status)
    instance = await Instance.create(
        order=order, customer=customer, status=instance_status, bot_username="kim_agent_bot"
    )
    return await Verification.create(
        instance=instance, code="the_right_code", expires_at=utcnow() + timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("order_status", "instance_status"),
    [
        (OrderStatus.FAILED, InstanceStatus.TERMINATED),
        (OrderStatus.REFUNDED, InstanceStatus.BOOTING),
        (OrderStatus.AWAITING_VERIFICATION, InstanceStatus.TERMINATING),
        (OrderStatus.CANCELLED, InstanceStatus.READY),
    ],
)
async def test_the_right_code_is_refused_once_the_order_is_released(db, order_status, instance_status):
    verification = await open_check(order_status, instance_status)
    outcome = await Verifier(bot_api=None).judge(verification, "/start the_right_code", OWNER, OWNER)
    assert outcome == StartOutcome.EXPIRED


async def test_the_right_code_works_while_the_order_is_open(db):
    verification = await open_check(OrderStatus.AWAITING_VERIFICATION, InstanceStatus.READY)
    outcome = await Verifier(bot_api=None).judge(verification, "/start the_right_code", OWNER, OWNER)
    assert outcome == StartOutcome.VERIFIED


async def test_another_orders_code_is_answered_but_never_counted(db):
    verification = await open_check(OrderStatus.AWAITING_VERIFICATION, InstanceStatus.READY)
    other = await Instance.create(status=InstanceStatus.READY, bot_username="other_agent_bot")
    await Verification.create(
        instance=other, code="other_orders_code", expires_at=utcnow() + timedelta(hours=1)
    )
    outcome = await Verifier(bot_api=None).judge(verification, "/start other_orders_code", 5, OWNER)
    assert outcome == StartOutcome.FOREIGN_CODE
