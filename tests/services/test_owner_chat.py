"""Where an instance's owner is told things (expiry, over quota): one rule for every sender."""

from __future__ import annotations

from models import Customer, Instance, InstanceStatus, Order
from services.notifications.customers import owner_chat_id


async def test_the_ordering_customers_chat_else_the_verified_owner_else_nobody(db: str) -> None:
    ann = await Customer.create(telegram_id=610_001, full_name="Ann")
    order = await Order.create(customer=ann, package="starter", bot_name="Ann's agent")
    ordered = await Instance.create(
        order=order, customer=ann, status=InstanceStatus.ACTIVE, owner_telegram_id=610_002
    )
    verified_only = await Instance.create(status=InstanceStatus.ACTIVE, owner_telegram_id=610_003)
    nobody = await Instance.create(status=InstanceStatus.WARM)
    assert await owner_chat_id(ordered.id) == 610_001
    assert await owner_chat_id(verified_only.id) == 610_003
    assert await owner_chat_id(nobody.id) is None
    assert await owner_chat_id(999_999) is None
