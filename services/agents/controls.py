"""What a customer does with their own agent from /mybots: restart it, read its health, give it a
persona, see what they paid for it.

Every action starts from `owned_instance`: an instance id that is not this customer's (a forged
button, another customer's agent) is "not found" and nothing happens. Restart and the persona's
config push are the same worker jobs the admins use (`instance_restart`, `instance_reprovision`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Q

from models import Customer, Instance, InstanceStatus, Job, JobStatus, Order
from services.jobs.kinds import INSTANCE_REPROVISION, INSTANCE_RESTART
from services.jobs.queue import JobQueue

HIDDEN = (InstanceStatus.WARM, InstanceStatus.TERMINATED)
RESTARTABLE = (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY)
OPEN_JOB = (JobStatus.PENDING, JobStatus.RUNNING)


class Health(StrEnum):
    LIVE = "live"
    RESTARTING = "restarting"
    TROUBLE = "trouble"  # the health check failed; the worker repairs it and alerts the team
    STOPPED = "stopped"
    SETTING_UP = "setting_up"


@dataclass(frozen=True)
class HealthLine:
    health: Health
    checked_at: datetime | None


def health_of(status: InstanceStatus | str, *, restarting: bool) -> Health:
    """The customer's word for an agent's state: live / restarting / stopped (and two rarer ones)."""
    if restarting and status in RESTARTABLE:
        return Health.RESTARTING
    if status == InstanceStatus.ACTIVE:
        return Health.LIVE
    if status == InstanceStatus.UNHEALTHY:
        return Health.TROUBLE
    if status in (
        InstanceStatus.STOPPED,
        InstanceStatus.TERMINATING,
        InstanceStatus.TERMINATED,
        InstanceStatus.FAILED,
    ):
        return Health.STOPPED
    return Health.SETTING_UP


class RestartOutcome(StrEnum):
    QUEUED = "queued"
    ALREADY = "already"  # one restart at a time per agent
    NOT_RUNNING = "not_running"  # stopped, expired, still being set up: nothing to restart
    NOT_FOUND = "not_found"  # not this customer's agent


async def owned_instance(customer: Customer, instance_id: int) -> Instance | None:
    """The customer's own, visible instance with this id, or None."""
    return await Instance.filter(id=instance_id, customer_id=customer.id).exclude(status__in=HIDDEN).first()


async def _open_jobs(kind: str, instance_id: int) -> list[Job]:
    jobs = await Job.filter(kind=kind, status__in=OPEN_JOB)
    return [j for j in jobs if int((j.payload or {}).get("instance_id", -1)) == instance_id]


async def health_line(instance: Instance) -> HealthLine:
    restarting = bool(await _open_jobs(INSTANCE_RESTART, instance.id))
    return HealthLine(health_of(instance.status, restarting=restarting), instance.last_health_at)


async def request_restart(queue: JobQueue, customer: Customer, instance_id: int) -> RestartOutcome:
    """Queue the gateway restart of the customer's own agent; the worker tells them the outcome."""
    instance = await owned_instance(customer, instance_id)
    if instance is None:
        return RestartOutcome.NOT_FOUND
    if instance.status not in RESTARTABLE:
        return RestartOutcome.NOT_RUNNING
    if await _open_jobs(INSTANCE_RESTART, instance.id):
        return RestartOutcome.ALREADY
    payload = {"instance_id": instance.id, "notify_chat_id": customer.telegram_id}
    await queue.enqueue(INSTANCE_RESTART, payload, max_attempts=1)  # its outcome is told, never retried
    return RestartOutcome.QUEUED


async def save_persona(queue: JobQueue, instance: Instance, name: str, prompt: str) -> bool:
    """Store the persona (already validated) and push the config to a running agent. Returns whether
    a push was queued; otherwise activation writes it (the agent is not live yet, or stopped)."""
    instance.persona_name, instance.persona_prompt = name, prompt
    await instance.save(update_fields=["persona_name", "persona_prompt", "updated_at"])
    if instance.status not in RESTARTABLE or not instance.owner_telegram_id:
        return False
    if not await _open_jobs(INSTANCE_REPROVISION, instance.id):  # a queued push reads the newest persona
        await queue.enqueue(INSTANCE_REPROVISION, {"instance_id": instance.id})
    return True


async def payments_of(instance: Instance) -> list[Order]:
    """The paid orders of an agent, oldest first: the one that created it and every renewal."""
    which = Q(renews_id=instance.id)
    if instance.order_id is not None:
        which |= Q(id=instance.order_id)
    return await Order.filter(which, paid_at__not_isnull=True).order_by("paid_at", "id")
