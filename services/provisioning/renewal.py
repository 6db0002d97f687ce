"""A renewal order in the provision job: the same agent runs on, its expiry moved on (a stopped agent's
server is started again and its config written with a new model key first)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from models import Instance, InstanceStatus, Order, OrderStatus
from services.jobs.queue import Claimed, utcnow
from services.jobs.worker import PermanentError
from services.notifications.customer_text import N_, Text
from services.payments.packages import Package, new_expiry
from services.provisioning import progress
from services.provisioning.saga_deps import SagaDeps


async def renew(deps: SagaDeps, claimed: Claimed, order: Order, package: Package) -> None:
    instance = await Instance.get(id=order.renews_id)
    if instance.status in (InstanceStatus.TERMINATED, InstanceStatus.TERMINATING, InstanceStatus.FAILED):
        raise PermanentError(f"instance {instance.id} is {instance.status}: it cannot be renewed")
    if instance.status == InstanceStatus.STOPPED and "restarted" not in claimed.job.state:
        await deps.resume_stopped(instance)
        await deps.queue.save_step(claimed, "restarted", True)
    now = utcnow()
    async with in_transaction():
        instance.expires_at = new_expiry(package, now, instance.expires_at)
        instance.status = InstanceStatus.ACTIVE
        instance.reminded_at = None
        instance.stopped_at = None
        await instance.save(update_fields=["expires_at", "status", "reminded_at", "stopped_at", "updated_at"])
        await Order.filter(id=order.id).update(status=OrderStatus.ACTIVE, updated_at=now)
        await deps.queue.save_step(claimed, "live", {"renewed_until": instance.expires_at.isoformat()})
    await deps.progress.report(
        order.id,
        progress.LIVE,
        detail=Text(N_("Renewed until {date}."), {"date": f"{instance.expires_at:%Y-%m-%d}"}),
    )
