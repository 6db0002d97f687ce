"""Customer servers: terminate, restart the agent, re-provision its config, health-check. Each is
queued as a job that the worker's instance care runs; the admin who asked does not wait for it."""

from __future__ import annotations

from typing import Any

from models import Instance, Job
from services.jobs.kinds import (
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import JobQueue
from services.operations.audit import Actor, NotFound, QueuedJob, record, valid_id

DEFAULT_TERMINATE_REASON = "admin request"


def terminate_key(instance_id: int) -> str:
    return f"admin:terminate:instance:{instance_id}"


async def _queue(
    queue: JobQueue, instance_id: int, kind: str, actor: Actor, *, key: str | None = None, **extra: Any
) -> QueuedJob:
    instance = await Instance.get_or_none(id=instance_id) if valid_id(instance_id) else None
    if instance is None:
        raise NotFound(f"no instance #{instance_id}")
    already = key is not None and await Job.filter(key=key).exists()
    job = await queue.enqueue(kind, {"instance_id": instance.id, **extra}, key=key)
    detail = f"job #{job.id}" + (" (already queued)" if already else "")
    if extra.get("reason") and not already:
        detail += f"; reason: {extra['reason']}"
    audit = await record(actor, kind, f"instance #{instance.id}", detail)
    return QueuedJob(job, already_queued=already, audit=audit)


async def terminate_instance(
    queue: JobQueue, instance_id: int, actor: Actor, *, reason: str = DEFAULT_TERMINATE_REASON
) -> QueuedJob:
    """Queue the termination of an instance's server. Termination is final: one job per instance
    however often, and from whichever door, it is asked for."""
    key = terminate_key(instance_id)
    return await _queue(queue, instance_id, INSTANCE_TERMINATE, actor, key=key, reason=reason[:200])


async def restart_instance(queue: JobQueue, instance_id: int, actor: Actor) -> QueuedJob:
    """Queue a restart of the agent's gateway (the worker waits until it is ready)."""
    return await _queue(queue, instance_id, INSTANCE_RESTART, actor)


async def reprovision_instance(queue: JobQueue, instance_id: int, actor: Actor) -> QueuedJob:
    """Queue writing the agent's config again and restarting its gateway."""
    return await _queue(queue, instance_id, INSTANCE_REPROVISION, actor)


async def check_instance(queue: JobQueue, instance_id: int, actor: Actor) -> QueuedJob:
    """Queue a health check now (with the automatic repair)."""
    return await _queue(queue, instance_id, INSTANCE_HEALTH_CHECK, actor)
