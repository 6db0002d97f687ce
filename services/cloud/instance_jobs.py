"""The worker's handlers for the instance admin actions (INSTANCE_* job kinds): health check,
restart, terminate, re-provision. The bot's admin pages, the owner's Restart button and the CLI
enqueue these jobs; the worker runs them here. Payload: {"instance_id", ...}."""

from __future__ import annotations

from models import Instance
from services.cloud.health import InstanceHealth
from services.cloud.instance_actions import InstanceActions
from services.cloud.instance_notices import restart_failed_text, restarted_text
from services.jobs.kinds import (
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import Claimed, JobQueue
from services.jobs.worker import Handler
from services.notifications.customers import queue_customer_message


class InstanceJobs:
    """`handlers()` maps the INSTANCE_* job kinds to the methods below."""

    def __init__(self, *, queue: JobQueue, health: InstanceHealth, actions: InstanceActions) -> None:
        self.queue = queue
        self.health = health
        self.actions = actions

    def handlers(self) -> dict[str, Handler]:
        return {
            INSTANCE_HEALTH_CHECK: self.handle_health_check,
            INSTANCE_RESTART: self.handle_restart,
            INSTANCE_TERMINATE: self.handle_terminate,
            INSTANCE_REPROVISION: self.handle_reprovision,
        }

    async def handle_health_check(self, claimed: Claimed) -> None:
        """A check now, even if the sweep checked moments ago (with the one automatic repair)."""
        instance = await Instance.get(id=int(claimed.job.payload["instance_id"]))
        await self.health.check_instance(instance, force=True)

    async def handle_restart(self, claimed: Claimed) -> None:
        instance_id = int(claimed.job.payload["instance_id"])
        restarted = await self.actions.restart(instance_id)
        chat_id = claimed.job.payload.get("notify_chat_id")
        if chat_id:  # the owner pressed Restart in /mybots: tell them how it went
            instance = await Instance.get(id=instance_id)
            text = restarted_text(instance) if restarted else restart_failed_text(instance)
            await queue_customer_message(self.queue, int(chat_id), text, key=f"restart_done:{claimed.job.id}")

    async def handle_terminate(self, claimed: Claimed) -> None:
        payload = claimed.job.payload
        reason = str(payload.get("reason") or "admin request")
        await self.actions.terminate(int(payload["instance_id"]), reason=reason)

    async def handle_reprovision(self, claimed: Claimed) -> None:
        await self.actions.reprovision(int(claimed.job.payload["instance_id"]))
