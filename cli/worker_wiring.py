"""The worker's wiring: the provisioning saga and every job kind's handler and periodic sweep, built
from the composition root's clients (cli/root.py). `python main.py worker|run|sandbox` use it.

Nothing here decides business rules (those live in the services); it only connects the parts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot

from cli.root import Background, Root
from config import Settings
from models import Job
from services.accounts.pool import handle_account_check
from services.agents.profile import BotProfiles
from services.cloud.bootstrap import render_user_data, wait_bootstrapped
from services.cloud.ec2 import Ec2Fleet
from services.cloud.instance_care import InstanceCare
from services.cloud.warm_pool import claim_warm_instance
from services.jobs import kinds as job_kinds
from services.jobs.queue import Claimed, JobQueue
from services.jobs.worker import Handler, Sweep, Worker
from services.notifications.alert_delivery import handle_deliver_alert
from services.notifications.customers import Messenger, deliver_customer_message
from services.payments.stripe_api import handle_refund_job
from services.provisioning.customer_notices import remind_unused_links
from services.provisioning.pool_bot_maker import AvatarLoader, PoolBotMaker
from services.provisioning.pool_wait import wake_pool_waiters
from services.provisioning.progress import ProgressReporter
from services.provisioning.saga import ProvisioningSaga
from services.provisioning.saga_deps import SagaDeps
from services.provisioning.verification import Verifier


@dataclass
class Runtime:
    """The worker's job handlers and sweeps, ready to run (`worker()`)."""

    settings: Settings
    queue: JobQueue
    saga: ProvisioningSaga
    care: InstanceCare
    fleet: Ec2Fleet  # the root's, for operator set-up steps (the bench's `ensure_network`)
    handlers: dict[str, Handler]
    on_dead: dict[str, Callable[[Job, str], Awaitable[None]]]
    sweeps: list[Sweep]

    def worker(self, concurrency: int | None = None, poll_interval: float = 0.5) -> Worker:
        return Worker(
            self.queue,
            self.handlers,
            concurrency=concurrency or self.settings.worker_concurrency,
            poll_interval=poll_interval,
            sweeps=self.sweeps,
            on_dead=self.on_dead,
        )


def wire_jobs(root: Root) -> Runtime:
    """Every job kind and sweep over the root's clients (it must have a Messenger and `background`)."""
    if root.background is None or root.messenger is None:
        raise RuntimeError("the worker needs the root's bot and background clients (Needs WORKER or RUN)")
    settings, queue, parts = root.settings, root.queue, root.background
    step_s = min(root.options.poll_interval_s, 2.0)
    care = InstanceCare(
        settings=settings,
        queue=queue,
        ssh=parts.ssh,
        fleet=parts.fleet,
        bot_api=parts.bot_api,
        poll_interval_s=step_s,
        host_key_factory=root.options.host_keys(),
    )
    avatars = avatar_loader(root.bot) if root.bot is not None else None
    saga = ProvisioningSaga(_saga_deps(root, parts, root.messenger, care, avatars))
    return Runtime(
        settings=settings,
        queue=queue,
        saga=saga,
        care=care,
        fleet=parts.fleet,
        handlers=_handlers(root, parts, root.messenger, saga, care, avatars),
        on_dead={job_kinds.PROVISION: saga.compensate},
        sweeps=_sweeps(root, parts, saga, care),
    )


def avatar_loader(bot: Bot) -> AvatarLoader:
    """The customer's avatar photo, downloaded by the Meet Matt bot that received it."""

    async def load(file_id: str) -> bytes | None:
        data = await bot.download(file_id)
        return data.getvalue() if data is not None else None

    return load


def _saga_deps(
    root: Root, parts: Background, messenger: Messenger, care: InstanceCare, avatars: AvatarLoader | None
) -> SagaDeps:
    settings, options = root.settings, root.options

    return SagaDeps(
        queue=root.queue,
        fleet=parts.fleet,
        bot_maker=PoolBotMaker(parts.pool, avatars),
        bot_api=parts.bot_api,
        verifier=Verifier(parts.bot_api, ttl=timedelta(minutes=settings.verification_ttl_minutes)),
        progress=ProgressReporter(messenger, root.queue),
        packages=settings.packages,
        generate_host_key=options.host_keys(),
        render_user_data=lambda keys: render_user_data(
            host_key=keys, openclaw_version=settings.openclaw_version
        ),
        wait_bootstrapped=lambda instance: wait_bootstrapped(
            parts.ssh, instance, settings.bootstrap_timeout_s, poll_interval_s=options.poll_interval_s
        ),
        activate=lambda instance, token, owner: care.actions.activate_agent(
            instance, bot_token=token, owner_id=owner, reason="activated again"
        ),
        resume_stopped=lambda instance: care.actions.resume(instance, reason="renewed"),
        claim_warm_instance=claim_warm_instance if settings.warm_pool_size > 0 else None,
        managed_bot_maker=parts.managed_bots,
        refund_on_failure=settings.refund_on_failure,
        pool_wait_limit=timedelta(hours=settings.pool_wait_limit_hours),
    )


def _handlers(
    root: Root,
    parts: Background,
    messenger: Messenger,
    saga: ProvisioningSaga,
    care: InstanceCare,
    avatars: AvatarLoader | None,
) -> dict[str, Handler]:
    async def notify(claimed: Claimed) -> None:
        await deliver_customer_message(messenger, claimed.job.payload)

    async def deliver_alert(claimed: Claimed) -> None:
        await handle_deliver_alert(parts.delivery, claimed.job.payload)

    async def account_check(claimed: Claimed) -> None:
        await handle_account_check(parts.pool, claimed.job.payload)
        await wake_pool_waiters()

    return {
        job_kinds.PROVISION: saga.run,
        job_kinds.NOTIFY_CUSTOMER: notify,
        job_kinds.DELIVER_ALERT: deliver_alert,
        job_kinds.REFUND_ORDER: lambda claimed: handle_refund_job(root.payments, root.queue, claimed),
        job_kinds.ACCOUNT_CHECK: account_check,
        # the owner's bot description/photo after go-live, through its creator account
        job_kinds.BOT_PROFILE: BotProfiles(parts.pool, root.queue, avatars).handle,
        **care.handlers(),
    }


def _sweeps(root: Root, parts: Background, saga: ProvisioningSaga, care: InstanceCare) -> list[Sweep]:
    scale, queue, lease_s = root.options.sweep_scale, root.queue, root.settings.job_lease_seconds

    async def check_accounts() -> None:
        await parts.pool.check_all()
        await wake_pool_waiters()

    return [
        Sweep("stale_leases", 30 * scale, queue.reclaim_expired),
        Sweep("abandoned_orders", 60 * scale, lambda: saga.release_abandoned(lease_s)),
        Sweep("accounts", 600 * scale, check_accounts),
        # an account put back in service (accounts enable, /accounts) resumes waiting orders soon
        Sweep("pool_waiters", 60 * scale, wake_pool_waiters),
        # a paid customer who has not opened their ownership link yet is reminded, with the button
        Sweep("link_reminders", 300 * scale, lambda: remind_unused_links(queue)),
        *care.sweeps(
            health_interval=300 * scale,
            expiry_interval=600 * scale,
            warm_pool_interval=60 * scale,
        ),
    ]
