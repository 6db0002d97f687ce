"""Attack (or accident): the customer blocks the Meet Matt bot mid-order, so every progress message
fails with 403. Provisioning must not fail because of it, and the admins must hear about the order
either way. Through every stand-in at once, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cli.run import running
from models import Alert, Instance, Job, Order, OrderStatus
from tests.e2e.test_provisioning_failures import (
    MISSING_AMI,
    dead_job,
    deep_link,
    delivered,
    moto_validates_images,  # noqa: F401
    place_order,
)
from tests.standins.stack import wait_until

CUSTOMER = 930_200


async def test_a_customer_who_blocked_the_bot_still_gets_a_live_agent_and_admins_hear(make_stack):
    async with make_stack() as stack:
        await stack.add_creator_accounts()
        customer = stack.customer(CUSTOMER, "Gus")
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, CUSTOMER, "Gus's Agent", "gus_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            _, code = await deep_link(customer)
            await customer.block_bot()  # every later progress edit now answers 403
            instance = await Instance.get(order_id=order.id)
            new_bot = stack.on_bot(instance.bot_token or "", CUSTOMER, "Gus")
            try:
                await new_bot.send(f"/start {code}")
                await new_bot.wait_text("Verified", timeout=30)
            finally:
                await new_bot.close()

            async def live() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.ACTIVE

            await wait_until(live, 60, "the order to go live")
            await delivered("customer_unreachable")

        job = await Job.get(kind="provision")
        assert job.attempts == 1 and job.last_error is None  # no step failed for a message
        [alert] = await Alert.filter(kind="customer_unreachable")
        assert f"Order {order.id}" in alert.text and "TelegramForbiddenError" in alert.text
        await customer.close()


@pytest.mark.usefixtures("moto_validates_images")
async def test_a_blocked_customer_whose_order_fails_never_hides_the_failure_from_admins(make_stack):
    async with make_stack(ec2_ami_id=MISSING_AMI, provision_max_attempts=1) as stack:
        await stack.add_creator_accounts()
        customer, admin_chat = stack.customer(CUSTOMER, "Gus"), stack.admin_chat()
        await customer.block_bot()
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            order = await place_order(app, CUSTOMER, "Gus's Agent", "gus_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            await dead_job(order, 40)

            async def closed() -> bool:
                return (await Order.get(id=order.id)).status == OrderStatus.FAILED

            await wait_until(closed, 20, "the order to be closed")
            await delivered("provision_failed")

        failed = await Alert.get(kind="provision_failed")
        assert f"Order {order.id}" in failed.text and "InvalidAMIID.NotFound" in failed.text
        assert any(f"Order {order.id}" in m.text for m in await admin_chat.messages())
        assert stack.botfather.deleted == stack.botfather.created  # released all the same
        await customer.close()
        await admin_chat.close()
