"""Instance care in the worker: health checks with one automatic repair, admin actions, expiry,
and the warm pool (DESIGN section 5).

Health, as operators of OpenClaw hosts learned it, over SSH (no `openclaw` CLI per sweep: each
call costs 140-200 MB): `curl` /healthz and /readyz, the service's restart count, OOM kills in the
kernel log, memory in use, and Telegram getUpdates 409 conflicts in the gateway log.

Escalation: the first unhealthy check spends ONE automatic repair (a restart; for a 409 conflict,
`deleteWebhook` with the bot's token first), then checks again at once. Still unhealthy, or
unhealthy again before a healthy sweep reset the repair: an admin alert saying what was seen.

Worker wiring: `care.handlers()` maps the INSTANCE_* job kinds to handlers, and
`care.sweeps(...)` gives the periodic `sweep_health`, `sweep_expiry` and `refill_warm_pool`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as pysecrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.expressions import Q

from models import AlertSeverity, Customer, Instance, InstanceStatus, Order, OrderStatus
from services.cloud.bootstrap import BOOTSTRAP_STATE_CMD, SERVICE_NAME, render_user_data
from services.cloud.ec2 import Ec2Fleet
from services.cloud.host_keys import HostKeyPair, generate_host_key
from services.cloud.ssh import SshConnector, SshError, SshSession
from services.infra.logging_setup import redact, secrets
from services.jobs.kinds import (
    INSTANCE_HEALTH_CHECK,
    INSTANCE_REPROVISION,
    INSTANCE_RESTART,
    INSTANCE_TERMINATE,
)
from services.jobs.queue import Claimed, JobQueue, utcnow
from services.model_gateway.keys import issue_instance_key, revoke_instance_keys
from services.notifications.alerts import raise_alert
from services.notifications.customer_text import N_, Text
from services.notifications.customers import RENEW_ACTION, action, queue_customer_message
from services.provisioning.activation import HEALTH_CMD, READY_CMD, activate, agent_endpoints, restart_gateway

log = logging.getLogger(__name__)

SYSTEMCTL_SHOW_CMD = f"systemctl show -p NRestarts -p ActiveState -p MemoryCurrent {SERVICE_NAME}"
MEMORY_CMD = "free -m | awk '/^Mem:/ {print $2, $3, $7}'"
OOM_LINE_RE = "out of memory: killed process"
CHECKED_STATUSES = (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY)
LIVE_FOR_EXPIRY = (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY, InstanceStatus.READY)


def oom_cmd(since_epoch: int) -> str:
    return (
        f"sudo -n journalctl -k --no-pager -q -o cat --since @{since_epoch} "
        f"| grep -Ei '{OOM_LINE_RE}' | tail -n 20 || true"
    )


def conflict_cmd(since_epoch: int) -> str:
    return (
        f"sudo -n journalctl -u {SERVICE_NAME} --no-pager -q -o cat --since @{since_epoch} "
        "| grep -E '409|Conflict' | tail -n 20 || true"
    )


class BotApiLike(Protocol):
    async def delete_webhook(self, token: str) -> None: ...


# --- health report ----------------------------------------------------------------------------


@dataclass
class HealthReport:
    """What one check saw. `problems()` lists what is wrong, in words an admin can act on."""

    reachable: bool = True
    error: str | None = None
    healthz_ok: bool | None = None
    readyz_ok: bool | None = None
    active_state: str | None = None
    n_restarts: int | None = None
    restarts_since_last: int = 0
    gateway_memory_mb: int | None = None
    mem_total_mb: int | None = None
    mem_used_mb: int | None = None
    oom_kills: int = 0
    conflicts_409: int = 0
    checked_at: str = field(default_factory=lambda: utcnow().isoformat())

    def problems(self) -> list[str]:
        if not self.reachable:
            return [f"SSH unreachable ({self.error})"]
        found = []
        if self.readyz_ok is False:
            found.append("/readyz failing")
        if self.healthz_ok is False:
            found.append("/healthz failing")
        if self.active_state and self.active_state != "active":
            found.append(f"gateway service {self.active_state}")
        if self.conflicts_409:
            found.append(f"{self.conflicts_409} Telegram getUpdates 409 conflict(s) in the gateway log")
        if self.oom_kills:
            found.append(f"{self.oom_kills} OOM kill(s) in the kernel log")
        if self.restarts_since_last:
            found.append(f"gateway restarted itself {self.restarts_since_last} time(s) since the last check")
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()

    def memory_text(self) -> str:
        parts = []
        if self.mem_used_mb is not None and self.mem_total_mb:
            parts.append(f"memory {self.mem_used_mb}/{self.mem_total_mb} MB in use")
        if self.gateway_memory_mb is not None:
            parts.append(f"gateway {self.gateway_memory_mb} MB")
        if self.n_restarts is not None:
            parts.append(f"NRestarts={self.n_restarts}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems()
        return data


def _parse_show(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


async def probe_health(
    session: SshSession, *, since_epoch: int, previous_restarts: int | None = None, timeout: float = 15.0
) -> HealthReport:
    """Run the health commands on an instance and read what they say (no repair here)."""
    report = HealthReport()
    report.healthz_ok = (await session.run(HEALTH_CMD, timeout)).ok
    report.readyz_ok = (await session.run(READY_CMD, timeout)).ok
    show = _parse_show((await session.run(SYSTEMCTL_SHOW_CMD, timeout)).stdout)
    report.active_state = show.get("ActiveState") or None
    if show.get("NRestarts", "").isdigit():
        report.n_restarts = int(show["NRestarts"])
        if previous_restarts is not None and report.n_restarts > previous_restarts:
            report.restarts_since_last = report.n_restarts - previous_restarts
    if show.get("MemoryCurrent", "").isdigit():
        report.gateway_memory_mb = int(show["MemoryCurrent"]) // (1024 * 1024)
    memory = (await session.run(MEMORY_CMD, timeout)).stdout.split()
    if len(memory) >= 2 and memory[0].isdigit() and memory[1].isdigit():
        report.mem_total_mb, report.mem_used_mb = int(memory[0]), int(memory[1])
    oom = (await session.run(oom_cmd(since_epoch), timeout)).stdout
    report.oom_kills = sum(1 for line in oom.splitlines() if OOM_LINE_RE in line.lower())
    conflicts = (await session.run(conflict_cmd(since_epoch), timeout)).stdout
    report.conflicts_409 = sum(
        1 for line in conflicts.splitlines() if "409" in line and ("Conflict" in line or "getUpdates" in line)
    )
    return report


# --- texts customers see (HTML; values escaped) -----------------------------------------------


def _bot(instance: Instance) -> Text:
    if instance.bot_username:
        return Text(N_("@{username}"), {"username": instance.bot_username})
    return Text(N_("your agent"))


def reminder_text(instance: Instance, days_left: int) -> Text:
    """`days_left` is in the message's key, not its words (which need no plural forms)."""
    when = instance.expires_at.strftime("%Y-%m-%d") if instance.expires_at else "—"
    return Text(
        N_(
            "⏰ Your agent {bot} expires on <b>{when}</b>. Renew it with the button below (or /renew) "
            "to keep it running."
        ),
        {"bot": _bot(instance), "when": when},
    )


def renew_buttons(instance: Instance) -> list[tuple[Text, str]]:
    """An expiry message carries its one-tap Renew, like the ownership link's reminders."""
    label = (
        Text(N_("🔁 Renew @{username}"), {"username": instance.bot_username})
        if instance.bot_username
        else Text(N_("🔁 Renew"))
    )
    return [(label, action(RENEW_ACTION, instance.id))]


def restarted_text(instance: Instance) -> Text:
    return Text(N_("✅ {bot} restarted and is live again."), {"bot": _bot(instance)})


def restart_failed_text(instance: Instance) -> Text:
    return Text(
        N_(
            "{bot} did not come back after the restart. Our team has been alerted and is on it; you "
            "don't need to do anything."
        ),
        {"bot": _bot(instance)},
    )


def stopped_text(instance: Instance, grace_days: int) -> Text:
    return Text(
        N_(
            "Your agent {bot} has expired and is paused. Renew it within {grace_days} days to bring "
            "it back; after that its server is deleted for good."
        ),
        {"bot": _bot(instance), "grace_days": grace_days},
    )


def terminated_text(instance: Instance) -> Text:
    return Text(
        N_("The server of your agent {bot} was deleted after the grace period ended."),
        {"bot": _bot(instance)},
    )


# --- the service ------------------------------------------------------------------------------


Handler = Callable[[Claimed], Awaitable[None]]


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


class InstanceCare:
    """Health, repair, admin actions, expiry and warm pool for customer instances."""

    def __init__(
        self,
        *,
        settings: Any,
        queue: JobQueue,
        ssh: SshConnector,
        fleet: Ec2Fleet | None,
        bot_api: BotApiLike | None,
        poll_interval_s: float = 2.0,
        min_check_interval_s: float = 60.0,
        host_key_factory: Callable[[], HostKeyPair] = generate_host_key,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.ssh = ssh
        self.fleet = fleet
        self.bot_api = bot_api
        self.poll_interval_s = poll_interval_s
        self.min_check_interval = timedelta(seconds=min_check_interval_s)
        self.host_key_factory = host_key_factory  # tests pin the stand-in server's key here

    # --- worker wiring -------------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            INSTANCE_HEALTH_CHECK: self.handle_health_check,
            INSTANCE_RESTART: self.handle_restart,
            INSTANCE_TERMINATE: self.handle_terminate,
            INSTANCE_REPROVISION: self.handle_reprovision,
        }

    def sweeps(
        self,
        *,
        health_interval: float = 300.0,
        expiry_interval: float = 600.0,
        warm_pool_interval: float = 60.0,
    ) -> list[Any]:
        from services.jobs.worker import Sweep

        return [
            Sweep("instance_health", health_interval, self.sweep_health),
            Sweep("instance_expiry", expiry_interval, self.sweep_expiry),
            Sweep("warm_pool", warm_pool_interval, self.refill_warm_pool),
        ]

    async def handle_health_check(self, claimed: Claimed) -> None:
        instance = await Instance.get(id=int(claimed.job.payload["instance_id"]))
        await self.check_instance(instance, force=True)

    async def handle_restart(self, claimed: Claimed) -> None:
        instance_id = int(claimed.job.payload["instance_id"])
        restarted = await self.restart(instance_id)
        chat_id = claimed.job.payload.get("notify_chat_id")
        if chat_id:  # the owner pressed Restart in /mybots: tell them how it went
            instance = await Instance.get(id=instance_id)
            text = restarted_text(instance) if restarted else restart_failed_text(instance)
            await queue_customer_message(self.queue, int(chat_id), text, key=f"restart_done:{claimed.job.id}")

    async def handle_terminate(self, claimed: Claimed) -> None:
        payload = claimed.job.payload
        reason = str(payload.get("reason") or "admin request")
        await self.terminate(int(payload["instance_id"]), reason=reason)

    async def handle_reprovision(self, claimed: Claimed) -> None:
        await self.reprovision(int(claimed.job.payload["instance_id"]))

    # --- health --------------------------------------------------------------------------------

    def _ssh_deadline(self) -> float:
        return float(self.settings.ssh_connect_timeout)

    async def _claim_check(self, instance: Instance, now: datetime) -> bool:
        """One worker checks an instance at a time: a conditional UPDATE on last_health_at."""
        cutoff = now - self.min_check_interval
        won = await Instance.filter(
            Q(last_health_at=None) | Q(last_health_at__lt=cutoff), id=instance.id
        ).update(last_health_at=now)
        return bool(won)

    async def check_instance(self, instance: Instance, *, force: bool = False) -> HealthReport | None:
        """Check one instance; repair once; alert when the repair did not help. None: another
        worker is checking it right now."""
        now = utcnow()
        previous_at = instance.last_health_at
        if not force and not await self._claim_check(instance, now):
            return None
        since = int((previous_at or now - timedelta(hours=1)).timestamp())
        previous_restarts = (instance.last_health or {}).get("n_restarts")
        if instance.bot_token:
            secrets.add(instance.bot_token)
        try:
            async with await self.ssh.connect(
                instance.public_ip, instance.host_key_public, deadline_s=self._ssh_deadline()
            ) as session:
                report = await probe_health(session, since_epoch=since, previous_restarts=previous_restarts)
                if report.healthy:
                    await self._record(instance, report, healthy=True)
                    return report
                if instance.repair_attempts == 0:
                    return await self._repair_and_recheck(session, instance, report)
        except SshError as exc:
            report = HealthReport(reachable=False, error=redact(str(exc)))
            return await self._unreachable(instance, report)
        await self._record(instance, report, healthy=False)
        await self._alert(instance, report.problems(), None, [], report)
        return report

    async def _repair_and_recheck(
        self, session: SshSession, instance: Instance, report: HealthReport
    ) -> HealthReport:
        actions: list[str] = []
        instance.repair_attempts = 1
        await instance.save(update_fields=["repair_attempts", "updated_at"])
        if report.conflicts_409 and instance.bot_token and self.bot_api is not None:
            try:
                await self.bot_api.delete_webhook(instance.bot_token)
                actions.append("deleteWebhook")
            except Exception as exc:  # the restart is still worth doing
                actions.append(f"deleteWebhook failed ({redact(type(exc).__name__ + ': ' + str(exc))})")
        restarted_at = int(time.time())
        try:
            await restart_gateway(
                session,
                ready_timeout_s=float(self.settings.readiness_timeout_s),
                poll_interval_s=self.poll_interval_s,
            )
            actions.append("restart")
        except Exception as exc:
            actions.append(f"restart ({redact(str(exc))[:200]})")
        after = await probe_health(session, since_epoch=restarted_at, previous_restarts=report.n_restarts)
        log.info(
            "instance repaired" if after.healthy else "instance repair did not help",
            extra={
                "instance_id": instance.id,
                "actions": ",".join(actions),
                "before": "; ".join(report.problems()),
                "after": "; ".join(after.problems()),
            },
        )
        await self._record(instance, after, healthy=after.healthy, keep_repair=True)
        if after.healthy:  # admins still hear of it, so a flapping instance does not go unseen
            await raise_alert(
                self.queue,
                "instance_repaired",
                f"instance {instance.id} ({instance.ec2_instance_id}) was repaired "
                f"automatically ({', '.join(actions)}). Seen: {'; '.join(report.problems())}.",
                severity=AlertSeverity.INFO,
                dedup_key=f"instance_repaired:{instance.id}",
            )
        else:
            await self._alert(instance, report.problems(), after.problems(), actions, after)
        return after

    async def _unreachable(self, instance: Instance, report: HealthReport) -> HealthReport:
        actions: list[str] = []
        if instance.repair_attempts == 0 and self.fleet is not None and instance.ec2_instance_id:
            instance.repair_attempts = 1
            try:
                await self.fleet.reboot(instance.ec2_instance_id)
                actions.append("EC2 reboot")
            except Exception as exc:
                actions.append(f"EC2 reboot failed ({type(exc).__name__})")
        await self._record(instance, report, healthy=False)
        await self._alert(instance, report.problems(), None, actions, report, severity=AlertSeverity.CRITICAL)
        return report

    async def _record(
        self, instance: Instance, report: HealthReport, *, healthy: bool, keep_repair: bool = False
    ) -> None:
        now = utcnow()
        if healthy and not keep_repair:
            instance.repair_attempts = 0
        await Instance.filter(id=instance.id).update(
            last_health=report.to_json(),
            last_health_at=now,
            repair_attempts=instance.repair_attempts,
            updated_at=now,
        )
        # status moves only between ACTIVE and UNHEALTHY, conditionally: an admin's terminate or
        # the expiry sweep may have moved the row on while this check ran
        before, after = (
            (InstanceStatus.UNHEALTHY, InstanceStatus.ACTIVE)
            if healthy
            else (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY)
        )
        if await Instance.filter(id=instance.id, status=before).update(status=after, updated_at=now):
            instance.status = after

    async def _alert(
        self,
        instance: Instance,
        before: list[str],
        after: list[str] | None,
        actions: list[str],
        report: HealthReport,
        severity: AlertSeverity = AlertSeverity.WARNING,
    ) -> None:
        name = f"instance {instance.id} ({instance.ec2_instance_id or 'no EC2 id'}"
        name += f", @{instance.bot_username})" if instance.bot_username else ")"
        text = f"{name} is unhealthy. Seen: {'; '.join(before)}."
        if actions:
            text += f" Automatic repair: {', '.join(actions)}."
        if after is not None:
            text += f" After the repair: {'; '.join(after) or 'healthy'}."
        elif not actions:
            text += " The automatic repair was already spent; needs a look."
        if report.memory_text():
            text += f" ({report.memory_text()})"
        await raise_alert(
            self.queue,
            "instance_unhealthy",
            text,
            severity=severity,
            dedup_key=f"instance_unhealthy:{instance.id}",
        )

    async def sweep_health(self) -> int:
        """Check every live customer instance (bounded concurrency). Returns how many were checked."""
        instances = await Instance.filter(status__in=CHECKED_STATUSES).exclude(public_ip=None)
        limit = asyncio.Semaphore(int(getattr(self.settings, "health_check_concurrency", 4)))
        checked = 0

        async def one(instance: Instance) -> None:
            nonlocal checked
            async with limit:
                try:
                    if await self.check_instance(instance) is not None:
                        checked += 1
                except Exception:
                    log.exception("health check failed", extra={"instance_id": instance.id})

        await asyncio.gather(*(one(i) for i in instances))
        return checked

    # --- admin actions -------------------------------------------------------------------------

    async def restart(self, instance_id: int) -> bool:
        """Restart the gateway (an admin's or the owner's request); alert the admins with the outcome."""
        instance = await Instance.get(id=instance_id)
        try:
            async with await self.ssh.connect(
                instance.public_ip, instance.host_key_public, deadline_s=self._ssh_deadline()
            ) as session:
                await restart_gateway(
                    session,
                    ready_timeout_s=float(self.settings.readiness_timeout_s),
                    poll_interval_s=self.poll_interval_s,
                )
        except Exception as exc:
            await raise_alert(
                self.queue,
                "instance_restart",
                f"Restart of instance {instance.id} failed: {redact(str(exc))}",
                severity=AlertSeverity.WARNING,
            )
            return False
        await self._mark_serving(instance, from_statuses=(InstanceStatus.UNHEALTHY,))
        await raise_alert(
            self.queue,
            "instance_restart",
            f"Instance {instance.id} restarted on request; the gateway is ready.",
            severity=AlertSeverity.INFO,
        )
        return True

    async def terminate(self, instance_id: int, *, reason: str = "admin request") -> None:
        """Terminate the EC2 instance and mark the row TERMINATED. Idempotent."""
        instance = await Instance.get(id=instance_id)
        if instance.status == InstanceStatus.TERMINATED:
            return
        await revoke_instance_keys(instance.id, "terminated")  # the agent loses the model at once
        await Instance.filter(id=instance.id).update(status=InstanceStatus.TERMINATING, updated_at=utcnow())
        if instance.ec2_instance_id:
            if self.fleet is None:
                raise RuntimeError("no EC2 fleet configured: cannot terminate")
            await self.fleet.terminate(instance.ec2_instance_id)
        await Instance.filter(id=instance.id).update(status=InstanceStatus.TERMINATED, updated_at=utcnow())
        log.info("instance terminated", extra={"instance_id": instance.id, "reason": reason})

    async def reprovision(self, instance_id: int) -> None:
        """Re-run activation on the same instance with its stored bot token and owner."""
        instance = await Instance.get(id=instance_id)
        await self.push_agent_config(
            instance, connect_deadline_s=self._ssh_deadline(), reason="reprovisioned"
        )
        await self._mark_serving(instance, from_statuses=(InstanceStatus.UNHEALTHY, InstanceStatus.READY))

    async def push_agent_config(self, instance: Instance, *, connect_deadline_s: float, reason: str) -> None:
        """Write the agent's whole config again with a NEW model key (the old one is revoked), restart
        the gateway and wait until it is ready. Re-provisioning and resuming a renewed agent use it."""
        if not instance.bot_token or not instance.owner_telegram_id:
            raise RuntimeError(
                f"instance {instance.id} has no bot token or verified owner yet: "
                "nothing to re-provision (the provisioning job does that)"
            )
        agent_endpoints(self.settings, "")  # PUBLIC_BASE_URL missing: refused before a key is issued
        if not instance.gateway_token:
            instance.gateway_token = pysecrets.token_urlsafe(32)
            await instance.save(update_fields=["gateway_token", "updated_at"])
        model_key = await issue_instance_key(instance.id, reason=reason)
        await activate(
            self.ssh,
            instance,
            bot_token=instance.bot_token,
            allowed_user_id=int(instance.owner_telegram_id),
            gateway_token=instance.gateway_token,
            endpoints=agent_endpoints(self.settings, model_key),
            ready_timeout_s=float(self.settings.readiness_timeout_s),
            poll_interval_s=self.poll_interval_s,
            connect_deadline_s=connect_deadline_s,
        )

    @staticmethod
    async def _mark_serving(instance: Instance, *, from_statuses: tuple[InstanceStatus, ...]) -> None:
        """After a successful restart/activation: repair budget back, and ACTIVE when it was one of
        `from_statuses` (conditional, so a concurrent terminate is never undone)."""
        now = utcnow()
        await Instance.filter(id=instance.id).update(repair_attempts=0, updated_at=now)
        await Instance.filter(id=instance.id, status__in=from_statuses).update(
            status=InstanceStatus.ACTIVE, updated_at=now
        )

    # --- expiry --------------------------------------------------------------------------------

    async def _chat_id(self, instance: Instance) -> int | None:
        if instance.customer_id is not None:
            customer = await Customer.get_or_none(id=instance.customer_id)
            if customer is not None:
                return int(customer.telegram_id)
        return int(instance.owner_telegram_id) if instance.owner_telegram_id else None

    async def sweep_expiry(self, now: datetime | None = None) -> ExpirySweepResult:
        """Reminders before expiry, stop at expiry, terminate after the grace period; start again
        an instance renewed during its grace period."""
        now = now or utcnow()
        result = ExpirySweepResult()
        reminder_days = parse_reminder_days(str(self.settings.expiry_reminder_days))
        grace = timedelta(days=int(self.settings.expiry_grace_days))
        if reminder_days:
            horizon = now + timedelta(days=reminder_days[0])
            for instance in await Instance.filter(
                status__in=LIVE_FOR_EXPIRY, expires_at__gt=now, expires_at__lte=horizon
            ):
                if await self._remind(instance, now, reminder_days):
                    result.reminded.append(instance.id)
        for instance in await Instance.filter(status__in=LIVE_FOR_EXPIRY, expires_at__lte=now):
            await self._stop_expired(instance, now, grace)
            result.stopped.append(instance.id)
        for instance in await Instance.filter(status=InstanceStatus.STOPPED, expires_at__lte=now - grace):
            await self._terminate_after_grace(instance)
            result.terminated.append(instance.id)
        # a worker that died between marking TERMINATING and the EC2 call left a server running
        for instance in await Instance.filter(
            status=InstanceStatus.TERMINATING, updated_at__lt=utcnow() - timedelta(minutes=10)
        ):
            await self.terminate(instance.id, reason="finishing an interrupted termination")
            result.terminated.append(instance.id)
        for instance in await Instance.filter(status=InstanceStatus.STOPPED, expires_at__gt=now):
            try:
                await self._resume_renewed(instance)
                result.resumed.append(instance.id)
            except Exception as exc:
                await raise_alert(
                    self.queue,
                    "instance_resume",
                    f"Renewed instance {instance.id} could not be started again: {redact(str(exc))}",
                    dedup_key=f"instance_resume:{instance.id}",
                )
        return result

    async def _remind(self, instance: Instance, now: datetime, reminder_days: list[int]) -> bool:
        assert instance.expires_at is not None
        due = [d for d in reminder_days if now >= instance.expires_at - timedelta(days=d)]
        if not due:
            return False
        threshold = min(due)  # the closest threshold crossed
        crossed_at = instance.expires_at - timedelta(days=threshold)
        if instance.reminded_at is not None and instance.reminded_at >= crossed_at:
            return False
        chat_id = await self._chat_id(instance)
        if chat_id is None:
            return False
        days_left = max(1, int((instance.expires_at - now).total_seconds() // 86400) + 1)
        key = f"expiry_reminder:{instance.id}:{instance.expires_at.isoformat()}:{threshold}"
        await queue_customer_message(
            self.queue,
            chat_id,
            reminder_text(instance, min(days_left, threshold)),
            key=key,
            buttons=renew_buttons(instance),
        )
        await Instance.filter(id=instance.id).update(reminded_at=now, updated_at=now)
        return True

    async def _stop_expired(self, instance: Instance, now: datetime, grace: timedelta) -> None:
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
        chat_id = await self._chat_id(instance)
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

    async def _terminate_after_grace(self, instance: Instance) -> None:
        await self.terminate(instance.id, reason="expired; grace period over")
        chat_id = await self._chat_id(instance)
        if chat_id is not None:
            await queue_customer_message(
                self.queue, chat_id, terminated_text(instance), key=f"terminated:{instance.id}"
            )

    async def _resume_renewed(self, instance: Instance) -> None:
        """A stopped instance whose expiry moved into the future (renewed): start it again."""
        if self.fleet is None or not instance.ec2_instance_id:
            return
        await self.fleet.start(instance.ec2_instance_id)
        instance.public_ip = await self.fleet.wait_running(instance.ec2_instance_id)
        # its model key was revoked when it stopped: a new one comes with a fresh config
        await self.push_agent_config(
            instance, connect_deadline_s=float(self.settings.bootstrap_timeout_s), reason="resumed"
        )
        await Instance.filter(id=instance.id, status=InstanceStatus.STOPPED).update(
            public_ip=instance.public_ip,
            status=InstanceStatus.ACTIVE,
            stopped_at=None,
            reminded_at=None,
            repair_attempts=0,
            updated_at=utcnow(),
        )

    # --- warm pool -----------------------------------------------------------------------------

    @staticmethod
    def _warm_track() -> Q:
        return Q(order_id=None, customer_id=None, ever_assigned=False)

    async def refill_warm_pool(self) -> int:
        """Keep WARM_POOL_SIZE pre-booted, bootstrapped, never-used instances. Launches what is
        missing, promotes booted ones to WARM, trims extras. Returns how many were launched."""
        size = int(self.settings.warm_pool_size)
        if self.fleet is None:
            return 0
        await self._promote_booting()
        in_pool = await Instance.filter(
            self._warm_track(),
            status__in=(InstanceStatus.LAUNCHING, InstanceStatus.BOOTING, InstanceStatus.WARM),
        ).order_by("id")
        for extra in in_pool[size:]:
            if extra.status == InstanceStatus.WARM:
                # the claim guard makes this safe: a WARM row claimed meanwhile is not touched
                taken = await Instance.filter(
                    id=extra.id, status=InstanceStatus.WARM, ever_assigned=False
                ).update(status=InstanceStatus.TERMINATING)
                if taken:
                    await self.terminate(extra.id, reason="warm pool shrunk")
        launched = 0
        for _ in range(max(0, size - len(in_pool))):
            await self._launch_warm()
            launched += 1
        return launched

    async def _launch_warm(self) -> Instance:
        assert self.fleet is not None
        key = self.host_key_factory()
        instance = await Instance.create(
            status=InstanceStatus.LAUNCHING,
            instance_type=self.settings.ec2_instance_type,
            host_key_public=key.public_openssh,
            host_key_private=key.private_openssh,
        )
        user_data = render_user_data(host_key=key, openclaw_version=self.settings.openclaw_version)
        ec2_id = await self.fleet.launch_warm(
            instance_row_id=instance.id, instance_type=self.settings.ec2_instance_type, user_data=user_data
        )
        instance.ec2_instance_id = ec2_id
        instance.status = InstanceStatus.BOOTING
        await instance.save(update_fields=["ec2_instance_id", "status", "updated_at"])
        log.info("warm-pool instance launched", extra={"instance_id": instance.id, "ec2_id": ec2_id})
        return instance

    async def _promote_booting(self) -> None:
        """LAUNCHING rows lost by a crash find their instance by tag; BOOTING ones that run and
        answer SSH with the bootstrap marker become WARM."""
        assert self.fleet is not None
        for instance in await Instance.filter(
            self._warm_track(), status=InstanceStatus.LAUNCHING, ec2_instance_id=None
        ):
            if utcnow() - instance.created_at < timedelta(minutes=2):
                continue  # probably still being launched by this very sweep elsewhere
            found = await self.fleet.find_by_warm_slot(instance.id)
            if found:
                await Instance.filter(id=instance.id).update(
                    ec2_instance_id=found, status=InstanceStatus.BOOTING
                )
            else:
                await Instance.filter(id=instance.id).update(status=InstanceStatus.FAILED)
        for instance in await Instance.filter(self._warm_track(), status=InstanceStatus.BOOTING):
            assert instance.ec2_instance_id is not None
            state = await self.fleet.state(instance.ec2_instance_id)
            if state in (None, "terminated", "shutting-down"):
                await Instance.filter(id=instance.id).update(status=InstanceStatus.FAILED)
                continue
            if state != "running":
                continue
            described = await self.fleet.describe(instance.ec2_instance_id) or {}
            instance.public_ip = described.get("PublicIpAddress")
            if not instance.public_ip:
                continue
            try:
                async with await self.ssh.connect(
                    instance.public_ip, instance.host_key_public, deadline_s=self._ssh_deadline()
                ) as session:
                    state_line = (await session.run(BOOTSTRAP_STATE_CMD, timeout=20)).stdout.strip()
            except SshError as exc:
                log.info(
                    "warm instance not reachable yet", extra={"instance_id": instance.id, "error": str(exc)}
                )
                continue
            if state_line.startswith("done"):
                await Instance.filter(id=instance.id, status=InstanceStatus.BOOTING).update(
                    status=InstanceStatus.WARM, public_ip=instance.public_ip, updated_at=utcnow()
                )
            elif state_line.startswith("failed"):
                await Instance.filter(id=instance.id).update(status=InstanceStatus.FAILED)
                await self.fleet.terminate(instance.ec2_instance_id)
                await raise_alert(
                    self.queue,
                    "warm_pool",
                    f"Warm-pool instance {instance.id} "
                    f"({instance.ec2_instance_id}) failed its bootstrap and was terminated: "
                    f"{state_line[:300]}",
                )


async def claim_warm_instance(order: Order) -> Instance | None:
    """Hand a WARM, never-assigned instance to `order`, or None when the pool is empty.

    Each candidate is taken with ONE conditional UPDATE (status WARM, never assigned, no order),
    so two concurrent orders can never get the same instance, and `ever_assigned` is set in the
    same statement: an instance that served a customer is never handed out again.
    """
    for _ in range(5):  # a lost race just moves to the next candidate
        candidates = (
            await Instance.filter(status=InstanceStatus.WARM, ever_assigned=False, order_id=None)
            .order_by("id")
            .limit(5)
            .values_list("id", flat=True)
        )
        if not candidates:
            return None
        for candidate in candidates:
            won = await Instance.filter(
                id=candidate, status=InstanceStatus.WARM, ever_assigned=False, order_id=None
            ).update(
                status=InstanceStatus.READY,
                ever_assigned=True,
                order_id=order.id,
                customer_id=order.customer_id,
                updated_at=utcnow(),
            )
            if won:
                log.info("warm instance claimed", extra={"instance_id": candidate, "order_id": order.id})
                return await Instance.get(id=candidate)
    return None


async def acquire_instance_for_order(
    fleet: Ec2Fleet,
    settings: Any,
    *,
    order: Order,
    job_id: int,
    user_id: int | None,
    host_key_factory: Callable[[], HostKeyPair] = generate_host_key,
) -> tuple[Instance, bool]:
    """The saga's launch_instance step: the order's instance, taking a warm one before launching.

    Returns (instance, ready): `ready` when it is already booted and bootstrapped (a warm-pool
    instance), so wait_ready passes at its first look. Idempotent: a resumed job gets the instance this order
    already has (never a second warm claim); a fresh launch is found again by its job tag.
    """
    existing = (
        await Instance.filter(order_id=order.id)
        .exclude(status__in=(InstanceStatus.TERMINATED, InstanceStatus.TERMINATING, InstanceStatus.FAILED))
        .order_by("id")
        .first()
    )
    if existing is None:
        warm = await claim_warm_instance(order)
        if warm is not None:
            assert warm.ec2_instance_id is not None
            await fleet.tag_for_order(warm.ec2_instance_id, job_id=job_id, order_id=order.id, user_id=user_id)
            return warm, True
        key = host_key_factory()
        existing = await Instance.create(
            order_id=order.id,
            customer_id=order.customer_id,
            status=InstanceStatus.LAUNCHING,
            ever_assigned=True,
            instance_type=settings.ec2_instance_type,
            host_key_public=key.public_openssh,
            host_key_private=key.private_openssh,
        )
    elif existing.ec2_instance_id:
        return existing, existing.status == InstanceStatus.READY
    assert existing.host_key_private is not None and existing.host_key_public is not None
    user_data = render_user_data(
        host_key=HostKeyPair(existing.host_key_private, existing.host_key_public),
        openclaw_version=settings.openclaw_version,
    )
    ec2_id = await fleet.launch(
        job_id=job_id,
        order_id=order.id,
        user_id=user_id,
        instance_type=existing.instance_type,
        user_data=user_data,
    )
    existing.ec2_instance_id = ec2_id
    existing.status = InstanceStatus.BOOTING
    await existing.save(update_fields=["ec2_instance_id", "status", "updated_at"])
    return existing, False
