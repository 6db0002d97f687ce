"""Instance expiry: reminders, stop, termination after the grace period, resume after a renewal,
and one instance EC2 refuses to act on (stop or termination protection, set in the AWS console)
holding up none of the others; against real stand-ins (see instance_rig)."""

from __future__ import annotations

from datetime import timedelta

from models import Alert, Customer, Instance, InstanceStatus, Job, ModelKey, Order, OrderStatus
from services.jobs.kinds import NOTIFY_CUSTOMER
from services.jobs.queue import utcnow
from services.model_gateway.keys import issue_instance_key
from services.notifications.customer_text import decode, plain
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


async def test_expiry_reminds_once_per_threshold_before_the_end(rig: Rig) -> None:
    instance = await live_instance(rig, expires_in=timedelta(days=2, hours=12), launch=False)
    first = await rig.care.expiry.sweep_expiry()
    again = await rig.care.expiry.sweep_expiry()
    assert first.reminded == [instance.id] and again.reminded == []
    messages = await Job.filter(kind=NOTIFY_CUSTOMER)
    customer = await Customer.get(id=instance.customer_id)
    assert len(messages) == 1 and messages[0].payload["chat_id"] == customer.telegram_id
    text = plain(decode(messages[0].payload["text"]))
    assert "@ada_agent_bot" in text and "/renew" in text
    # a day later the 1-day threshold is crossed: one more reminder
    later = await rig.care.expiry.sweep_expiry(now=utcnow() + timedelta(days=1, hours=18))
    assert later.reminded == [instance.id]
    reminders = await Job.filter(kind=NOTIFY_CUSTOMER).order_by("id")
    assert len(reminders) == 2
    # each reminder re-sends the one-tap Renew (the bot maps the action to its Renew button)
    for reminder in reminders:
        [(label, target)] = reminder.payload["buttons"]
        assert (plain(decode(label)), target) == ("🔁 Renew @ada_agent_bot", f"action:renew:{instance.id}")


async def test_expiry_stops_the_server_then_terminates_it_after_the_grace_period(rig: Rig) -> None:
    instance = await live_instance(rig, expires_in=timedelta(hours=-1))
    await issue_instance_key(instance.id)
    swept = await rig.care.expiry.sweep_expiry()
    assert swept.stopped == [instance.id]
    row = await Instance.get(id=instance.id)
    assert row.status == InstanceStatus.STOPPED and row.stopped_at is not None
    assert await rig.fleet.state(instance.ec2_instance_id) in ("stopping", "stopped")
    assert (await Order.get(id=instance.order_id)).status == OrderStatus.EXPIRED
    assert any(
        "expired and is paused" in plain(decode(j.payload["text"]))
        for j in await Job.filter(kind=NOTIFY_CUSTOMER)
    )
    assert await ModelKey.filter(instance_id=instance.id, revoked_at=None).count() == 0

    within_grace = await rig.care.expiry.sweep_expiry(now=utcnow() + timedelta(days=6))
    assert within_grace.terminated == []
    after_grace = await rig.care.expiry.sweep_expiry(now=utcnow() + timedelta(days=7, hours=1))
    assert after_grace.terminated == [instance.id]
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.TERMINATED
    assert await rig.fleet.state(instance.ec2_instance_id) == "terminated"
    running = await rig.fleet.ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )
    assert running["Reservations"] == []


async def test_an_interrupted_termination_is_finished_by_the_expiry_sweep(rig: Rig) -> None:
    instance = await live_instance(rig)
    # the worker died right after marking the row, before the EC2 call
    await Instance.filter(id=instance.id).update(
        status=InstanceStatus.TERMINATING, updated_at=utcnow() - timedelta(minutes=30)
    )
    swept = await rig.care.expiry.sweep_expiry()
    assert swept.terminated == [instance.id]
    assert await rig.fleet.state(instance.ec2_instance_id) == "terminated"
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.TERMINATED


async def test_a_stopped_instance_renewed_in_its_grace_period_is_started_again(rig: Rig) -> None:
    instance = await live_instance(rig, expires_in=timedelta(hours=-1))
    await issue_instance_key(instance.id)
    await rig.care.expiry.sweep_expiry()
    rig.box.behaviour.gateway_running = False  # the server was off
    await Instance.filter(id=instance.id).update(expires_at=utcnow() + timedelta(days=30))
    swept = await rig.care.expiry.sweep_expiry()
    assert swept.resumed == [instance.id]
    assert await rig.fleet.state(instance.ec2_instance_id) == "running"
    assert (await Instance.get(id=instance.id)).status == InstanceStatus.ACTIVE
    assert rig.box.commands_matching("systemctl restart")
    # the key revoked at the stop is replaced by a new live one, written with the config
    assert [k.revoked_reason for k in await ModelKey.filter(instance_id=instance.id).order_by("id")] == [
        "expired",
        None,
    ]


async def _protect(rig: Rig, instance: Instance, attribute: str) -> None:
    """What an operator does in the AWS console: EC2 then refuses StopInstances/TerminateInstances."""
    await rig.fleet.ec2.modify_instance_attribute(
        InstanceId=instance.ec2_instance_id, **{attribute: {"Value": True}}
    )


async def test_an_instance_ec2_will_not_stop_does_not_keep_the_others_running(rig: Rig) -> None:
    protected = await live_instance(rig, expires_in=timedelta(hours=-2))
    other = await live_instance(rig, expires_in=timedelta(hours=-1))
    await _protect(rig, protected, "DisableApiStop")

    swept = await rig.care.expiry.sweep_expiry()
    assert swept.stopped == [other.id]
    assert (await Instance.get(id=other.id)).status == InstanceStatus.STOPPED
    assert await rig.fleet.state(other.ec2_instance_id) in ("stopping", "stopped")
    assert (await Instance.get(id=protected.id)).status == InstanceStatus.ACTIVE  # tried again next sweep
    [alert] = await Alert.filter(kind="instance_expiry")
    assert f"instance {protected.id}" in alert.text and "OperationNotPermitted" in alert.text

    await rig.care.expiry.sweep_expiry()  # still refused: the same alert counts up, no new one
    [again] = await Alert.filter(kind="instance_expiry")
    assert again.id == alert.id and again.count == 2


async def test_instances_ec2_will_not_terminate_do_not_keep_the_others_alive(rig: Rig) -> None:
    after_grace = utcnow() - timedelta(days=8)
    expired = [await live_instance(rig, expires_in=timedelta(days=-8)) for _ in range(2)]
    interrupted = [await live_instance(rig) for _ in range(2)]
    for instance in expired:
        await Instance.filter(id=instance.id).update(status=InstanceStatus.STOPPED, stopped_at=after_grace)
    for instance in interrupted:
        await Instance.filter(id=instance.id).update(
            status=InstanceStatus.TERMINATING, updated_at=utcnow() - timedelta(minutes=30)
        )
    await _protect(rig, expired[0], "DisableApiTermination")
    await _protect(rig, interrupted[0], "DisableApiTermination")

    swept = await rig.care.expiry.sweep_expiry()
    assert swept.terminated == [expired[1].id, interrupted[1].id]
    for instance in (expired[1], interrupted[1]):
        assert await rig.fleet.state(instance.ec2_instance_id) == "terminated"
        assert (await Instance.get(id=instance.id)).status == InstanceStatus.TERMINATED
    for instance in (expired[0], interrupted[0]):
        assert await rig.fleet.state(instance.ec2_instance_id) == "running"
    alerts = await Alert.filter(kind="instance_expiry").order_by("id")
    assert [a.dedup_key for a in alerts] == [
        f"instance_expiry:{expired[0].id}",
        f"instance_expiry:{interrupted[0].id}",
    ]
