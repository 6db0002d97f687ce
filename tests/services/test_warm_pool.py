"""The warm pool: refill, promotion to WARM, claims that never hand an instance out twice, and
shrinking; against real stand-ins (see instance_rig). The saga taking a warm instance for a paid
order: tests/e2e/test_provisioning_warm_pool.py."""

from __future__ import annotations

import asyncio
import secrets

from models import Customer, Instance, InstanceStatus, Order, OrderStatus
from services.cloud.warm_pool import claim_warm_instance
from tests.services.instance_rig import (  # noqa: F401 - fixtures
    Rig,
    aws_endpoint,
    instance_key,
    live_instance,
    moto_server,
    platform_key,
    rig,
    ssh_box,
)

SMALL = "t3.small"  # the instance type of the default packages' starter and of EC2_INSTANCE_TYPE


def with_pool(rig: Rig, size: int) -> None:
    rig.care.warm_pool.settings = rig.settings.model_copy(update={"warm_pool_size": size})


async def live_ec2_ids(rig: Rig) -> set[str]:
    answer = await rig.fleet.ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    return {i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]}


async def new_order(telegram_id: int | None = None) -> Order:
    customer = await Customer.create(telegram_id=telegram_id or secrets.randbelow(10**9) + 1000)
    return await Order.create(customer=customer, package="month", bot_name="Agent", status=OrderStatus.PAID)


async def test_refill_launches_the_pool_then_promotes_booted_instances_to_warm(rig: Rig) -> None:
    with_pool(rig, 2)
    assert await rig.care.warm_pool.refill_warm_pool() == 2
    rows = await Instance.all().order_by("id")
    assert [r.status for r in rows] == [InstanceStatus.BOOTING] * 2
    assert all(r.order_id is None and not r.ever_assigned and r.host_key_private for r in rows)
    assert {r.ec2_instance_id for r in rows} == await live_ec2_ids(rig)
    for row in rows:
        tags = {t["Key"]: t["Value"] for t in (await rig.fleet.describe(row.ec2_instance_id))["Tags"]}
        assert tags["meetmatt:warm"] == str(row.id)

    rig.box.behaviour.bootstrap_state = "done"
    assert await rig.care.warm_pool.refill_warm_pool() == 0  # the pool is full: nothing more launched
    assert [r.status for r in await Instance.all()] == [InstanceStatus.WARM] * 2
    assert len(await live_ec2_ids(rig)) == 2


async def test_concurrent_orders_claim_each_warm_instance_once(rig: Rig) -> None:
    for n in range(2):
        await Instance.create(
            status=InstanceStatus.WARM,
            ec2_instance_id=f"i-warm{n:012d}",
            public_ip=f"198.51.100.{n + 40}",
            host_key_public=rig.host_key_public,
        )
    orders = [await new_order() for _ in range(6)]
    results = await asyncio.gather(*(claim_warm_instance(o, SMALL) for o in orders))
    winners = [r for r in results if r is not None]
    assert len(winners) == 2 and len({w.id for w in winners}) == 2
    rows = await Instance.all()
    assert all(r.ever_assigned and r.status == InstanceStatus.READY for r in rows)
    assert sorted(r.order_id for r in rows) == sorted(w.order_id for w in winners)
    assert await claim_warm_instance(await new_order(), SMALL) is None


async def test_an_order_only_claims_a_warm_instance_of_its_packages_type(rig: Rig) -> None:
    small = await Instance.create(
        status=InstanceStatus.WARM,
        instance_type=SMALL,
        ec2_instance_id="i-small000000001",
        host_key_public=rig.host_key_public,
    )
    assert await claim_warm_instance(await new_order(), "t3.medium") is None
    assert (await Instance.get(id=small.id)).status == InstanceStatus.WARM
    medium = await Instance.create(
        status=InstanceStatus.WARM,
        instance_type="t3.medium",
        ec2_instance_id="i-medium00000001",
        host_key_public=rig.host_key_public,
    )
    claimed = await claim_warm_instance(await new_order(), "t3.medium")
    assert claimed is not None and claimed.id == medium.id
    assert (await Instance.get(id=small.id)).order_id is None


async def test_an_instance_that_served_a_customer_is_never_handed_out_again(rig: Rig) -> None:
    used = await Instance.create(
        status=InstanceStatus.WARM,
        ever_assigned=True,
        ec2_instance_id="i-used0000000001",
        host_key_public=rig.host_key_public,
    )
    assert await claim_warm_instance(await new_order(), SMALL) is None
    assert (await Instance.get(id=used.id)).order_id is None

    # a claimed instance, once terminated, is replaced by a fresh launch, not reused
    with_pool(rig, 1)
    await rig.care.warm_pool.refill_warm_pool()
    await rig.care.warm_pool.refill_warm_pool()
    claimed = await claim_warm_instance(await new_order(), SMALL)
    assert claimed is not None
    await rig.care.actions.terminate(claimed.id)
    assert await rig.care.warm_pool.refill_warm_pool() == 1
    newest = await Instance.filter(ever_assigned=False).order_by("-id").first()
    assert newest is not None and newest.id != claimed.id
    assert newest.ec2_instance_id != claimed.ec2_instance_id
    assert claimed.ec2_instance_id not in await live_ec2_ids(rig)


async def test_a_smaller_pool_terminates_the_extra_warm_instances(rig: Rig) -> None:
    with_pool(rig, 2)
    await rig.care.warm_pool.refill_warm_pool()
    await rig.care.warm_pool.refill_warm_pool()
    with_pool(rig, 1)
    await rig.care.warm_pool.refill_warm_pool()
    statuses = sorted(r.status for r in await Instance.all())
    assert statuses == sorted([InstanceStatus.WARM, InstanceStatus.TERMINATED])
    assert len(await live_ec2_ids(rig)) == 1
