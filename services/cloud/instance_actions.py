"""What can be done to one customer instance on request: restart its gateway, terminate its server,
write its agent config again (re-provision, or the provisioning saga's first activation), start a
stopped one again (a renewal). The admin and owner job handlers (services.cloud.instance_jobs) act
only through here; the expiry sweep and the warm pool use it to terminate and resume, but also call
the EC2 fleet directly (services.cloud.instance_care says which does what).
"""

from __future__ import annotations

import logging
import secrets as pysecrets

from config import Settings
from models import AlertSeverity, Instance, InstanceStatus
from services.cloud.activation import activate, agent_endpoints, require_public_base_url, restart_gateway
from services.cloud.ec2 import Ec2Fleet
from services.cloud.ssh import SshConnector
from services.infra.logging_setup import redact
from services.jobs.queue import JobQueue, utcnow
from services.model_gateway.keys import issue_instance_key, revoke_instance_keys
from services.notifications.alerts import raise_alert

log = logging.getLogger(__name__)


class InstanceActions:
    """Restart, terminate and re-provision instances; each tells the admins what came of it."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        ssh: SshConnector,
        fleet: Ec2Fleet | None,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.ssh = ssh
        self.fleet = fleet
        self.poll_interval_s = poll_interval_s

    def ssh_deadline(self) -> float:
        return float(self.settings.ssh_connect_timeout)

    async def restart(self, instance_id: int) -> bool:
        """Restart the gateway (an admin's or the owner's request); alert the admins with the outcome."""
        instance = await Instance.get(id=instance_id)
        try:
            async with await self.ssh.connect(
                instance.public_ip, instance.host_key_public, deadline_s=self.ssh_deadline()
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
        await mark_serving(instance, from_statuses=(InstanceStatus.UNHEALTHY,))
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
        await self.push_agent_config(instance, connect_deadline_s=self.ssh_deadline(), reason="reprovisioned")
        await mark_serving(instance, from_statuses=(InstanceStatus.UNHEALTHY, InstanceStatus.READY))

    async def resume(self, instance: Instance, *, reason: str) -> None:
        """Start a STOPPED instance's server again (its public IP is new) and write its config with a
        new model key (the old one was revoked at the stop), restarting the gateway. The caller moves
        the status on. Starting a server that already runs is a no-op on EC2, so a retry is safe."""
        if instance.ec2_instance_id:
            if self.fleet is None:
                raise RuntimeError("no EC2 fleet configured: cannot start a stopped instance")
            await self.fleet.start(instance.ec2_instance_id)
            instance.public_ip = await self.fleet.wait_running(instance.ec2_instance_id)
            await Instance.filter(id=instance.id).update(public_ip=instance.public_ip, updated_at=utcnow())
        # the server has just booted: SSH may take as long as a fresh one
        await self.push_agent_config(
            instance, connect_deadline_s=float(self.settings.bootstrap_timeout_s), reason=reason
        )

    async def push_agent_config(self, instance: Instance, *, connect_deadline_s: float, reason: str) -> None:
        """Write a live agent's whole config again (its stored bot token and verified owner) with a
        NEW model key. Re-provisioning and resuming a renewed agent use it."""
        if not instance.bot_token or not instance.owner_telegram_id:
            raise RuntimeError(
                f"instance {instance.id} has no bot token or verified owner yet: "
                "nothing to re-provision (the provisioning job does that)"
            )
        await self.activate_agent(
            instance,
            bot_token=instance.bot_token,
            owner_id=int(instance.owner_telegram_id),
            reason=reason,
            connect_deadline_s=connect_deadline_s,
        )

    async def activate_agent(
        self,
        instance: Instance,
        *,
        bot_token: str,
        owner_id: int,
        reason: str,
        connect_deadline_s: float | None = None,
    ) -> None:
        """Write the agent's config with a NEW model key (issuing it revokes the instance's earlier
        ones), restart the gateway and wait until it is ready. The provisioning saga's activation and
        `push_agent_config` both come here. Without PUBLIC_BASE_URL it is refused before a key is
        issued; the instance's gateway token is made once and kept."""
        require_public_base_url(self.settings)
        gateway_token = await gateway_token_of(instance)
        # the push restarts the gateway: it counts as the instance's health check, so instance care
        # does not take the restart for an outage and "repair" it with a second restart mid-push
        await Instance.filter(id=instance.id).update(last_health_at=utcnow())
        # the agent calls Meet Matt's model gateway with this key, never Moonshot with the platform's
        model_key = await issue_instance_key(instance.id, reason=reason)
        await activate(
            self.ssh,
            instance,
            bot_token=bot_token,
            allowed_user_id=owner_id,
            gateway_token=gateway_token,
            endpoints=agent_endpoints(self.settings, model_key),
            ready_timeout_s=float(self.settings.readiness_timeout_s),
            poll_interval_s=self.poll_interval_s,
            connect_deadline_s=connect_deadline_s,
        )
        await Instance.filter(id=instance.id).update(last_health_at=utcnow())  # seen ready just now


async def gateway_token_of(instance: Instance) -> str:
    """The token of the instance's loopback gateway: made (and stored) at its first activation, the
    same at every later one."""
    if not instance.gateway_token:
        instance.gateway_token = pysecrets.token_urlsafe(32)
        await instance.save(update_fields=["gateway_token", "updated_at"])
    return instance.gateway_token


async def mark_serving(instance: Instance, *, from_statuses: tuple[InstanceStatus, ...]) -> None:
    """After a successful restart/activation: repair budget back, and ACTIVE when it was one of
    `from_statuses` (conditional, so a concurrent terminate is never undone)."""
    now = utcnow()
    await Instance.filter(id=instance.id).update(repair_attempts=0, updated_at=now)
    await Instance.filter(id=instance.id, status__in=from_statuses).update(
        status=InstanceStatus.ACTIVE, updated_at=now
    )
