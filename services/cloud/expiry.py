"""Instance expiry in the worker (DESIGN section 5): reminders before the end, stop at the end,
terminate after the grace period, and start again an instance renewed during its grace period."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet

from config import Settings
from models import Instance, InstanceStatus, Order, OrderStatus
from services.cloud.ec2 import Ec2Fleet
from services.cloud.instance_actions import InstanceActions
from services.cloud.instance_notices import reminder_text, renew_buttons, stopped_text, terminated_text
from services.infra.logging_setup import redact
from services.jobs.queue import JobQueue, utcnow
from services.model_gateway.keys import revoke_instance_keys
from services.notifications.alerts import raise_alert
from services.notifications.customers import owner_chat_id, queue_customer_message

log = logging.getLogger(__name__)

LIVE_FOR_EXPIRY = (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY, InstanceStatus.READY)


@dataclass
class ExpirySweepResult:
    reminded: list[int] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    terminated: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)


def parse_reminder_days(text: str) -> list[int]:
    """ "3,1" -> [3, 1] (descending, positive, de-duplicated)."""
    days = {int(x) for x in text.replace(" ", "").split(",") if x.isdigit() and int(x) > 0}
    return sorted(days, reverse=True)


def reminder_due(
    expires_at: datetime, reminded_at: datetime | None, now: datetime, days: list[int]
) -> int | None:
    """The reminder threshold (in days) to send now, or None: the closest threshold crossed, once."""
    due = [d for d in days if now >= expires_at - timedelta(days=d)]
    if not due:
        return None
    threshold = min(due)
    crossed_at = expires_at - timedelta(days=threshold)
    if reminded_at is not None and reminded_at >= crossed_at:
        return None
    return threshold


class InstanceExpiry:
    """The expiry sweep: each instance moves on from where its expiry date puts it."""

    def __init__(
        self, *, settings: Settings, queue: JobQueue, fleet: Ec2Fleet | None, actions: InstanceActions
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.fleet = fleet
        self.actions = actions

    async def sweep_expiry(self, now: datetime | None = None) -> ExpirySweepResult:
        """Reminders before expiry, stop at expiry, terminate after the grace period; start again
        an instance renewed during its grace period. An instance that fails a step (EC2 refuses to
        stop it, say) is alerted on and left for the next sweep; the others still move on."""
        now = now or utcnow()
        result = ExpirySweepResult()
        reminder_days = parse_reminder_days(str(self.settings.expiry_reminder_days))
        grace = timedelta(days=int(self.settings.expiry_grace_days))
        if reminder_days:
            horizon = now + timedelta(days=reminder_days[0])
            result.reminded = await self._each(
                Instance.filter(status__in=LIVE_FOR_EXPIRY, expires_at__gt=now, expires_at__lte=horizon),
                lambda i: self._remind(i, now, reminder_days),
                failed="The expiry reminder for instance {id} could not be sent",
            )
        result.stopped = await self._each(
            Instance.filter(status__in=LIVE_FOR_EXPIRY, expires_at__lte=now),
            lambda i: self._stop_expired(i, now, grace),
            failed="Expired instance {id} could not be stopped",
        )
        result.terminated = await self._each(
            Instance.filter(status=InstanceStatus.STOPPED, expires_at__lte=now - grace),
            self._terminate_after_grace,
            failed="Instance {id}, past its grace period, could not be terminated",
        )
        # a worker that died between marking TERMINATING and the EC2 call left a server running
        interrupted_before = utcnow() - timedelta(minutes=10)
        result.terminated += await self._each(
            Instance.filter(status=InstanceStatus.TERMINATING, updated_at__lt=interrupted_before),
            self._finish_termination,
            failed="The interrupted termination of instance {id} could not be finished",
        )
        result.resumed = await self._each(
            Instance.filter(status=InstanceStatus.STOPPED, expires_at__gt=now),
            self._resume_renewed,
            failed="Renewed instance {id} could not be started again",
            kind="instance_resume",
        )
        return result

    async def _each(
        self,
        instances: QuerySet[Instance],
        step: Callable[[Instance], Awaitable[bool]],
        *,
        failed: str,
        kind: str = "instance_expiry",
    ) -> list[int]:
        """Run `step` on each instance (oldest first); the ids it acted on (it returns True). One that
        raises is alerted on, `failed` naming it (one alert per instance, repeats merged), and
        skipped: it never holds up the instances after it."""
        done = []
        for instance in await instances.order_by("id"):
            try:
                if await step(instance):
                    done.append(instance.id)
            except Exception as exc:
                await raise_alert(
                    self.queue,
                    kind,
                    f"{failed.format(id=instance.id)}: {redact(str(exc))}",
                    dedup_key=f"{kind}:{instance.id}",
                )
        return done

    async def _remind(self, instance: Instance, now: datetime, reminder_days: list[int]) -> bool:
        assert instance.expires_at is not None
        threshold = reminder_due(instance.expires_at, instance.reminded_at, now, reminder_days)
        if threshold is None:
            return False
        chat_id = await owner_chat_id(instance.id)
        if chat_id is None:
            return False
        key = f"expiry_reminder:{instance.id}:{instance.expires_at.isoformat()}:{threshold}"
        await queue_customer_message(
            self.queue,
            chat_id,
            reminder_text(instance),
            key=key,
            buttons=renew_buttons(instance),
        )
        await Instance.filter(id=instance.id).update(reminded_at=now, updated_at=now)
        return True

    async def _stop_expired(self, instance: Instance, now: datetime, grace: timedelta) -> bool:
        await revoke_instance_keys(instance.id, "expired")
        if instance.ec2_instance_id and self.fleet is not None:
            await self.fleet.stop(instance.ec2_instance_id)
        await Instance.filter(id=instance.id).update(
            status=InstanceStatus.STOPPED, stopped_at=now, updated_at=now
        )
        if instance.order_id is not None:
            await Order.filter(id=instance.order_id, status=OrderStatus.ACTIVE).update(
                status=OrderStatus.EXPIRED, updated_at=now
            )
        chat_id = await owner_chat_id(instance.id)
        if chat_id is not None:
            assert instance.expires_at is not None
            await queue_customer_message(
                self.queue,
                chat_id,
                stopped_text(instance, grace.days),
                buttons=renew_buttons(instance),
                key=f"expired:{instance.id}:{instance.expires_at.isoformat()}",
            )
        log.info("instance expired and stopped", extra={"instance_id": instance.id})
        return True

    async def _terminate_after_grace(self, instance: Instance) -> bool:
        await self.actions.terminate(instance.id, reason="expired; grace period over")
        chat_id = await owner_chat_id(instance.id)
        if chat_id is not None:
            await queue_customer_message(
                self.queue, chat_id, terminated_text(instance), key=f"terminated:{instance.id}"
            )
        return True

    async def _finish_termination(self, instance: Instance) -> bool:
        await self.actions.terminate(instance.id, reason="finishing an interrupted termination")
        return True

    async def _resume_renewed(self, instance: Instance) -> bool:
        """A stopped instance whose expiry moved into the future: start it again."""
        await self.actions.resume(instance, reason="resumed")
        await Instance.filter(id=instance.id, status=InstanceStatus.STOPPED).update(
            status=InstanceStatus.ACTIVE,
            stopped_at=None,
            reminded_at=None,
            repair_attempts=0,
            updated_at=utcnow(),
        )
        return True
