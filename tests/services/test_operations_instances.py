"""services/operations/instances: terminate, restart, re-provision and check are queued for the worker
with one audit record each; termination is queued once per instance, whoever asks and how often."""

from __future__ import annotations

import pytest

from models import AdminAction, Customer, Instance, InstanceStatus, Job
from services.jobs.kinds import (
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import JobQueue
from services.operations import instances as operations
from services.operations.audit import Actor, NotFound

ADA = Actor(900_001, "@ada")


async def instance() -> Instance:
    customer = await Customer.create(telegram_id=600_100, full_name="Cy")
    return await Instance.create(customer=customer, status=InstanceStatus.ACTIVE, bot_username="cy_bot")


@pytest.mark.parametrize(
    ("act", "kind"),
    [
        (operations.restart_instance, INSTANCE_RESTART),
        (operations.reprovision_instance, INSTANCE_REPROVISION),
        (operations.check_instance, INSTANCE_HEALTH_CHECK),
    ],
)
async def test_each_action_queues_its_job_and_records_it(db: str, act, kind: str) -> None:
    inst = await instance()
    done = await act(JobQueue("test"), inst.id, ADA)
    job = await Job.get(kind=kind)
    assert job.payload == {"instance_id": inst.id} and done.job.id == job.id and not done.already_queued
    record = await AdminAction.get()
    assert (record.admin_telegram_id, record.action, record.target, record.detail) == (
        ADA.telegram_id,
        kind,
        f"instance #{inst.id}",
        f"job #{job.id}",
    )


async def test_terminate_is_queued_once_with_the_first_reason_and_every_request_recorded(db: str) -> None:
    inst = await instance()
    queue = JobQueue("test")
    first = await operations.terminate_instance(queue, inst.id, ADA)
    second = await operations.terminate_instance(queue, inst.id, Actor.cli(), reason="operator request (CLI)")
    assert await Job.filter(kind=INSTANCE_TERMINATE).count() == 1
    assert first.job.id == second.job.id and (first.already_queued, second.already_queued) == (False, True)
    assert first.job.payload == {"instance_id": inst.id, "reason": "admin request"}
    records = await AdminAction.all().order_by("id").values_list("admin_telegram_id", "detail")
    assert records == [
        (ADA.telegram_id, f"job #{first.job.id}; reason: admin request"),
        (None, f"job #{first.job.id} (already queued)"),
    ]


@pytest.mark.parametrize("instance_id", [999, 0, 2**31])
async def test_an_unknown_instance_is_not_found_and_nothing_is_queued_or_recorded(
    db: str, instance_id: int
) -> None:
    for act in (
        operations.terminate_instance,
        operations.restart_instance,
        operations.reprovision_instance,
        operations.check_instance,
    ):
        with pytest.raises(NotFound, match=f"no instance #{instance_id}"):
            await act(JobQueue("test"), instance_id, ADA)
    assert await Job.all().count() == 0 and await AdminAction.all().count() == 0
