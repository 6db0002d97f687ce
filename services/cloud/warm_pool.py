"""The warm pool (DESIGN section 5): WARM_POOL_SIZE pre-booted, bootstrapped, never-used instances,
so a paid order skips the launch and the bootstrap. The worker's sweep refills it with servers of
EC2_INSTANCE_TYPE; the provisioning saga takes one with `claim_warm_instance` before launching a
server of its own, only when the order's package runs on that same type."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from tortoise.expressions import Q

from config import Settings
from models import Instance, InstanceStatus, Order
from services.cloud.bootstrap import BOOTSTRAP_STATE_CMD, render_user_data
from services.cloud.ec2 import Ec2Fleet
from services.cloud.host_keys import HostKeyPair, generate_host_key
from services.cloud.instance_actions import InstanceActions
from services.cloud.ssh import SshConnector, SshError
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert

log = logging.getLogger(__name__)


def _warm_track() -> Q:
    return Q(order_id=None, customer_id=None, ever_assigned=False)


class WarmPool:
    """Launches what the pool lacks, promotes booted instances to WARM, trims extras."""

    def __init__(
        self,
        *,
        settings: Settings,
        queue: JobQueue,
        ssh: SshConnector,
        fleet: Ec2Fleet | None,
        actions: InstanceActions,
        host_key_factory: Callable[[], HostKeyPair] = generate_host_key,
    ) -> None:
        self.settings = settings
        self.queue = queue
        self.ssh = ssh
        self.fleet = fleet
        self.actions = actions
        self.host_key_factory = host_key_factory  # tests pin the stand-in server's key here

    async def refill_warm_pool(self) -> int:
        """Keep WARM_POOL_SIZE pre-booted, bootstrapped, never-used instances. Launches what is
        missing, promotes booted ones to WARM, trims extras. Returns how many were launched."""
        size = int(self.settings.warm_pool_size)
        if self.fleet is None:
            return 0
        await self._promote_booting()
        in_pool = await Instance.filter(
            _warm_track(),
            status__in=(InstanceStatus.LAUNCHING, InstanceStatus.BOOTING, InstanceStatus.WARM),
        ).order_by("id")
        for extra in in_pool[size:]:
            if extra.status == InstanceStatus.WARM:
                # the claim guard makes this safe: a WARM row claimed meanwhile is not touched
                taken = await Instance.filter(
                    id=extra.id, status=InstanceStatus.WARM, ever_assigned=False
                ).update(status=InstanceStatus.TERMINATING)
                if taken:
                    await self.actions.terminate(extra.id, reason="warm pool shrunk")
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
            _warm_track(), status=InstanceStatus.LAUNCHING, ec2_instance_id=None
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
        for instance in await Instance.filter(_warm_track(), status=InstanceStatus.BOOTING):
            await self._promote(instance)

    async def _promote(self, instance: Instance) -> None:
        """One BOOTING instance: WARM once its bootstrap says done, FAILED (and terminated) if failed."""
        assert self.fleet is not None and instance.ec2_instance_id is not None
        state = await self.fleet.state(instance.ec2_instance_id)
        if state in (None, "terminated", "shutting-down"):
            await Instance.filter(id=instance.id).update(status=InstanceStatus.FAILED)
            return
        if state != "running":
            return
        described = await self.fleet.describe(instance.ec2_instance_id) or {}
        instance.public_ip = described.get("PublicIpAddress")
        if not instance.public_ip:
            return
        try:
            async with await self.ssh.connect(
                instance.public_ip, instance.host_key_public, deadline_s=self.actions.ssh_deadline()
            ) as session:
                state_line = (await session.run(BOOTSTRAP_STATE_CMD, timeout=20)).stdout.strip()
        except SshError as exc:
            log.info("warm instance not reachable yet", extra={"instance_id": instance.id, "error": str(exc)})
            return
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


async def claim_warm_instance(order: Order, instance_type: str) -> Instance | None:
    """Hand a WARM, never-assigned instance of `instance_type` (the order's package's) to `order`,
    or None when the pool holds none of that type: a "pro" order never gets a starter's server.

    Each candidate is taken with ONE conditional UPDATE (status WARM, never assigned, no order),
    so two concurrent orders can never get the same instance, and `ever_assigned` is set in the
    same statement: an instance that served a customer is never handed out again.
    """
    for _ in range(5):  # a lost race just moves to the next candidate
        candidates = (
            await Instance.filter(
                status=InstanceStatus.WARM, ever_assigned=False, order_id=None, instance_type=instance_type
            )
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
