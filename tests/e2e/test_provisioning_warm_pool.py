"""The saga's own warm-pool path, through every stand-in at once: with WARM_POOL_SIZE=1 the worker's
sweep launches and bootstraps a spare server; a paid order then takes THAT server (relabelled for
its job) instead of launching one, and goes live on it. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from cli.run import running
from models import Instance, InstanceStatus, JobStatus, OrderStatus
from services.cloud.ec2 import TAG_JOB, TAG_ORDER, TAG_WARM
from tests.e2e.test_provisioning_failures import (
    _provision_job,
    place_order,
    verify_and_go_live,
)
from tests.standins.stack import Stack, wait_until

CUSTOMER_ID = 950_001


def _tags(described: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


async def _warm_instance(stack: Stack) -> Instance:
    async def warm() -> bool:
        return await Instance.filter(status=InstanceStatus.WARM).exists()

    await wait_until(warm, 60, "the warm pool to hold a bootstrapped server")
    [instance] = await Instance.filter(status=InstanceStatus.WARM)
    return instance


async def test_a_paid_order_takes_the_warm_instance_instead_of_launching_one(make_stack) -> None:
    async with make_stack(warm_pool_size=1) as stack:
        await stack.add_creator_accounts()
        customer = stack.customer(CUSTOMER_ID, "Wes")
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            warm = await _warm_instance(stack)
            assert warm.order_id is None and not warm.ever_assigned
            order = await place_order(app, CUSTOMER_ID, "Wes's Agent", "wes_agent_bot")
            assert await stack.pay(order, app.web_port) == 200
            await verify_and_go_live(stack, customer, order, CUSTOMER_ID)
            await customer.wait_text("Your agent is live", timeout=10)

        # the order went live on the warm server: same row, same EC2 instance, now assigned for good
        instance = await Instance.get(order_id=order.id)
        assert (instance.id, instance.ec2_instance_id) == (warm.id, warm.ec2_instance_id)
        assert instance.ever_assigned and instance.status == InstanceStatus.ACTIVE
        assert instance.owner_telegram_id == CUSTOMER_ID
        assert (await instance.order).status == OrderStatus.ACTIVE
        assert await Instance.filter(order_id=order.id).count() == 1
        job = await _provision_job(order)
        assert job is not None and job.status == JobStatus.DONE
        assert job.state["instance"] == {"instance_id": warm.id, "warm": True}

        # no RunInstances for the order: the only server carrying a job tag is the warm one,
        # relabelled for this job and order; every other live server is a fresh warm-pool spare
        live = await stack.live_instances()
        tagged = {i["InstanceId"]: _tags(i) for i in live}
        with_job = [ec2_id for ec2_id, tags in tagged.items() if TAG_JOB in tags]
        assert with_job == [warm.ec2_instance_id]
        assert tagged[warm.ec2_instance_id][TAG_JOB] == str(job.id)
        assert tagged[warm.ec2_instance_id][TAG_ORDER] == str(order.id)
        spares = [tags for ec2_id, tags in tagged.items() if ec2_id != warm.ec2_instance_id]
        assert all(TAG_WARM in tags and TAG_ORDER not in tags for tags in spares)
        # the spare refilled after the claim is a new server, never the one that served a customer
        pool = await Instance.filter(order_id=None, ever_assigned=False)
        assert warm.id not in {i.id for i in pool}
        await customer.close()


async def test_an_order_for_a_larger_server_launches_its_own_instead_of_the_smaller_warm_one(
    make_stack,
) -> None:
    async with make_stack(warm_pool_size=1) as stack:
        await stack.add_creator_accounts()
        customer = stack.customer(CUSTOMER_ID, "Wes")
        async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
            pro = next(p for p in app.settings.packages if p.code == "pro")
            warm = await _warm_instance(stack)
            assert warm.instance_type == stack.settings.ec2_instance_type != pro.instance_type
            order = await place_order(app, CUSTOMER_ID, "Wes's Agent", "wes_agent_bot", package=pro.code)
            assert await stack.pay(order, app.web_port) == 200
            await verify_and_go_live(stack, customer, order, CUSTOMER_ID)

        instance = await Instance.get(order_id=order.id)
        assert instance.id != warm.id and instance.instance_type == pro.instance_type
        described = {i["InstanceId"]: i for i in await stack.live_instances()}
        assert described[instance.ec2_instance_id]["InstanceType"] == pro.instance_type
        # the small warm server is still the pool's, untouched
        assert described[warm.ec2_instance_id]["InstanceType"] == warm.instance_type
        still = await Instance.get(id=warm.id)
        assert still.status == InstanceStatus.WARM and still.order_id is None and not still.ever_assigned
        await customer.close()
