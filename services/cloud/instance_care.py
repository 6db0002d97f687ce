"""Instance care in the worker (DESIGN section 5), wired together: health checks with one automatic
repair (services.cloud.health), expiry (services.cloud.expiry), the warm pool
(services.cloud.warm_pool), and the INSTANCE_* job handlers (services.cloud.instance_jobs). The job
handlers restart, terminate and re-provision through services.cloud.instance_actions, and so do
expiry's terminations and resumes and the warm pool's trimming; the health repair restarts the
gateway over its own SSH session and reboots through the EC2 fleet, expiry stops servers through
the fleet, and the warm pool terminates a server whose bootstrap failed through the fleet.

`care.handlers()` maps the INSTANCE_* job kinds to handlers; `care.sweeps(...)` gives the periodic
`sweep_health`, `sweep_expiry` and `refill_warm_pool`.
"""

from __future__ import annotations

from collections.abc import Callable

from config import Settings
from services.cloud.ec2 import Ec2Fleet
from services.cloud.expiry import InstanceExpiry
from services.cloud.health import BotApiLike, InstanceHealth
from services.cloud.host_keys import HostKeyPair, generate_host_key
from services.cloud.instance_actions import InstanceActions
from services.cloud.instance_jobs import InstanceJobs
from services.cloud.ssh import SshConnector
from services.cloud.warm_pool import WarmPool
from services.jobs.queue import JobQueue
from services.jobs.worker import Handler, Sweep


class InstanceCare:
    """The instance services built once for a worker, sharing one SSH connector and fleet."""

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
        host_key_factory: Callable[[], HostKeyPair] = generate_host_key,
    ) -> None:
        self.actions = InstanceActions(
            settings=settings, queue=queue, ssh=ssh, fleet=fleet, poll_interval_s=poll_interval_s
        )
        self.health = InstanceHealth(
            settings=settings,
            queue=queue,
            ssh=ssh,
            fleet=fleet,
            bot_api=bot_api,
            poll_interval_s=poll_interval_s,
            min_check_interval_s=min_check_interval_s,
        )
        self.expiry = InstanceExpiry(settings=settings, queue=queue, fleet=fleet, actions=self.actions)
        self.warm_pool = WarmPool(
            settings=settings,
            queue=queue,
            ssh=ssh,
            fleet=fleet,
            actions=self.actions,
            host_key_factory=host_key_factory,
        )
        self.jobs = InstanceJobs(queue=queue, health=self.health, actions=self.actions)

    def handlers(self) -> dict[str, Handler]:
        return self.jobs.handlers()

    def sweeps(
        self,
        *,
        health_interval: float = 300.0,
        expiry_interval: float = 600.0,
        warm_pool_interval: float = 60.0,
    ) -> list[Sweep]:
        return [
            Sweep("instance_health", health_interval, self.health.sweep_health),
            Sweep("instance_expiry", expiry_interval, self.expiry.sweep_expiry),
            Sweep("warm_pool", warm_pool_interval, self.warm_pool.refill_warm_pool),
        ]
