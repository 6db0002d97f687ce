"""Instance health in the worker: what one check sees, and the escalation (DESIGN section 5).

Health, as operators of OpenClaw hosts learned it, over SSH (no `openclaw` CLI per sweep: each
call costs 140-200 MB): `curl` /healthz and /readyz, the service's restart count, OOM kills in the
kernel log, memory in use, and Telegram getUpdates 409 conflicts in the gateway log.

Escalation: the first unhealthy check spends ONE automatic repair (a restart; for a 409 conflict,
`deleteWebhook` with the bot's token first), then checks again at once. Still unhealthy, or
unhealthy again before a healthy sweep reset the repair: an admin alert saying what was seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tortoise.expressions import Q

from config import Settings
from models import AlertSeverity, Instance, InstanceStatus
from services.cloud.activation import HEALTH_CMD, READY_CMD, restart_gateway
from services.cloud.bootstrap import SERVICE_NAME
from services.cloud.ec2 import Ec2Fleet
from services.cloud.ssh import SshConnector, SshError, SshSession
from services.infra.logging_setup import redact, secrets
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert

log = logging.getLogger(__name__)

SYSTEMCTL_SHOW_CMD = f"systemctl show -p NRestarts -p ActiveState -p MemoryCurrent {SERVICE_NAME}"
MEMORY_CMD = "free -m | awk '/^Mem:/ {print $2, $3, $7}'"
OOM_LINE_RE = "out of memory: killed process"
CHECKED_STATUSES = (InstanceStatus.ACTIVE, InstanceStatus.UNHEALTHY)


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


def unhealthy_text(
    instance: Instance, before: list[str], after: list[str] | None, actions: list[str], report: HealthReport
) -> str:
    """The admin alert: what was seen, what the automatic repair did, and what it left."""
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
    return text


class InstanceHealth:
    """Checks live customer instances, repairs each once, and alerts when the repair did not help."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        ssh: SshConnector,
        fleet: Ec2Fleet | None,
        bot_api: BotApiLike | None,
        poll_interval_s: float = 2.0,
        min_check_interval_s: float = 60.0,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.ssh = ssh
        self.fleet = fleet
        self.bot_api = bot_api
        self.poll_interval_s = poll_interval_s
        self.min_check_interval = timedelta(seconds=min_check_interval_s)

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
        deadline_s = float(self.settings.ssh_connect_timeout)
        try:
            async with await self.ssh.connect(
                instance.public_ip, instance.host_key_public, deadline_s=deadline_s
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

    async def _repair(
        self, session: SshSession, instance: Instance, report: HealthReport
    ) -> tuple[list[str], int]:
        """The one automatic repair: deleteWebhook first for a 409 conflict, then a restart.
        Returns what was done and when the restart began (the recheck reads the logs from there)."""
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
        return actions, restarted_at

    async def _repair_and_recheck(
        self, session: SshSession, instance: Instance, report: HealthReport
    ) -> HealthReport:
        actions, restarted_at = await self._repair(session, instance, report)
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
        await raise_alert(
            self.queue,
            "instance_unhealthy",
            unhealthy_text(instance, before, after, actions, report),
            severity=severity,
            dedup_key=f"instance_unhealthy:{instance.id}",
        )

    async def sweep_health(self) -> int:
        """Check every live customer instance (bounded concurrency). Returns how many were checked."""
        instances = await Instance.filter(status__in=CHECKED_STATUSES).exclude(public_ip=None)
        limit = asyncio.Semaphore(self.settings.health_check_concurrency)
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
