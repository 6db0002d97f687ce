"""The composition root of the background side: builds every service once from the settings and
routes job kinds to their handlers. `python main.py worker|run|sandbox` use it.

Nothing here decides business rules (those live in the services); it only connects the parts.
Clients that need closing are opened in `open_runtime` and closed when it exits.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from config import Settings, secret_value
from models import Job
from services.accounts.bot_api import BotApi
from services.accounts.pool import AccountPool
from services.accounts.telethon_client import telethon_client_factory
from services.jobs import kinds as job_kinds
from services.jobs.queue import Claimed, JobQueue
from services.jobs.worker import Handler, PermanentError, Sweep, Worker
from services.notifications.customers import Messenger, deliver_customer_message
from services.provisioning.managed_bot_maker import ManagedBotMaker
from services.provisioning.pool_bot_maker import PoolBotMaker
from services.provisioning.pool_wait import wake_pool_waiters
from services.provisioning.saga import ProvisioningSaga, SagaDeps
from services.provisioning.verification import Verifier

log = logging.getLogger("meetmatt.runtime")


@dataclass
class Runtime:
    settings: Settings
    queue: JobQueue
    bot_api: BotApi
    saga: ProvisioningSaga
    handlers: dict[str, Handler]
    on_dead: dict[str, Callable[[Job, str], Awaitable[None]]]
    sweeps: list[Sweep]
    extras: dict[str, Any] = field(default_factory=dict)

    def worker(self, concurrency: int | None = None, poll_interval: float = 0.5) -> Worker:
        return Worker(
            self.queue,
            self.handlers,
            concurrency=concurrency or self.settings.worker_concurrency,
            poll_interval=poll_interval,
            sweeps=self.sweeps,
            on_dead=self.on_dead,
        )


async def _name_broken_env_accounts(queue: JobQueue, errors: list[str]) -> None:
    """Creator accounts in the environment that could not be imported are named now (log and admin
    alert), not discovered when a paid order needs a bot. The texts name variables, never values."""
    from models import AlertSeverity
    from services.notifications.alerts import raise_alert

    for error in errors:
        log.error("creator account from the environment not imported: %s", error)
    await raise_alert(
        queue,
        "env_accounts_not_imported",
        "Creator accounts in the environment could not be imported:\n- " + "\n- ".join(errors),
        severity=AlertSeverity.WARNING,
    )


async def _check_key_pair(fleet: Any) -> None:
    """A mismatch stops the start; EC2 being unreachable only delays the check to the first launch."""
    from botocore.exceptions import BotoCoreError

    from services.cloud.ec2 import Ec2Error

    try:
        await fleet.ensure_key_pair()
    except (Ec2Error, BotoCoreError) as exc:
        log.warning(
            "could not compare the EC2 key pair with the platform key now; it is checked again "
            "before the first launch",
            extra={"error": type(exc).__name__},
        )


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    messenger: Messenger,
    *,
    client_factory: Callable[[Any], Any] = telethon_client_factory,
    avatar_loader: Callable[[str], Awaitable[bytes | None]] | None = None,
    host_key_factory: Callable[[], Any] | None = None,
    poll_interval_s: float = 10.0,
    sweep_scale: float = 1.0,
    import_env: bool = True,
    verify_key_pair: bool = True,
) -> AsyncIterator[Runtime]:
    """Every background service, built once. The ORM must already be open.

    With `import_env`, creator accounts named in the environment (TELEGRAM_*, TELEGRAM_FALLBACK_<n>_*)
    are imported (encrypted) first, so a fresh deployment has its pool without a manual step.
    The platform SSH key comes from the database (created once, shared by every replica); with
    `verify_key_pair` the EC2 key pair is compared with it first and a mismatch refuses the start
    (PlatformKeyMismatch). `host_key_factory` and `poll_interval_s` exist for the local stand-ins.
    """
    from services.accounts.pool import handle_account_check
    from services.agents.profile import BotProfiles
    from services.cloud.bootstrap import render_user_data, wait_bootstrapped
    from services.cloud.ec2 import Ec2Fleet
    from services.cloud.host_keys import generate_host_key
    from services.cloud.instance_care import InstanceCare
    from services.cloud.platform_key import load_platform_key
    from services.cloud.ssh import SshConnector
    from services.cloud.warm_pool import claim_warm_instance
    from services.model_gateway.keys import issue_instance_key
    from services.notifications.alert_delivery import AlertDelivery, handle_deliver_alert
    from services.payments.stripe_api import PaymentError, PaymentsService, make_stripe_client, run_refund_job
    from services.provisioning import activation
    from services.provisioning.customer_notices import remind_unused_links
    from services.provisioning.progress import ProgressReporter

    make_host_key = host_key_factory or generate_host_key
    async with AsyncExitStack() as stack:
        if import_env:
            from services.accounts.env_import import import_env_accounts

            imported = await import_env_accounts(bot_limit=settings.creator_bot_limit)
        queue = JobQueue(
            worker_id(), settings.job_lease_seconds, backoff_base=settings.job_backoff_base_seconds
        )
        if import_env and imported.errors:
            await _name_broken_env_accounts(queue, imported.errors)
        bot_api = BotApi(settings.telegram_api_server)
        stack.push_async_callback(bot_api.close)
        platform_key = await load_platform_key(settings.ssh_private_key_path)
        fleet = await Ec2Fleet.open(settings, platform_public_key=platform_key.public_openssh)
        stack.push_async_callback(fleet.close)
        if verify_key_pair:
            await _check_key_pair(fleet)
        ssh = SshConnector.from_settings(settings, platform_key.private)
        pool = AccountPool(client_factory, queue, bot_limit=settings.creator_bot_limit)
        care = InstanceCare(
            settings=settings,
            queue=queue,
            ssh=ssh,
            fleet=fleet,
            bot_api=bot_api,
            poll_interval_s=min(poll_interval_s, 2.0),
            host_key_factory=make_host_key,
        )
        delivery = AlertDelivery.from_settings(settings)
        stack.push_async_callback(delivery.close)
        payments = None
        if secret_value(settings.stripe_secret_key):
            payments = PaymentsService(make_stripe_client(settings), settings.packages, bot_username=None)
        main_bot_token = secret_value(settings.bot_token) or ""

        async def activate(instance: Any, token: str, user_id: int, gateway_token: str) -> None:
            # a new model key per activation (a retried step revokes the one it issued before): the
            # agent calls Meet Matt's model gateway with it, never Moonshot with the platform key
            activation.agent_endpoints(settings, "")  # PUBLIC_BASE_URL missing: refused before a key
            model_key = await issue_instance_key(instance.id, reason="activated again")
            await activation.activate(
                ssh,
                instance,
                bot_token=token,
                allowed_user_id=user_id,
                gateway_token=gateway_token,
                endpoints=activation.agent_endpoints(settings, model_key),
                ready_timeout_s=settings.readiness_timeout_s,
                poll_interval_s=min(poll_interval_s, 2.0),
            )

        async def restart_gateway(instance: Any) -> None:
            # a renewal of a stopped agent: its model key was revoked at the stop, so the config is
            # written again with a new key (which restarts the gateway)
            await care.actions.push_agent_config(
                instance, connect_deadline_s=settings.ssh_connect_timeout, reason="renewed"
            )

        deps = SagaDeps(
            queue=queue,
            fleet=fleet,
            bot_maker=PoolBotMaker(pool, avatar_loader),
            bot_api=bot_api,
            verifier=Verifier(bot_api, ttl=timedelta(minutes=settings.verification_ttl_minutes)),
            progress=ProgressReporter(messenger, queue),
            packages=settings.packages,
            generate_host_key=make_host_key,
            render_user_data=lambda keys: render_user_data(
                host_key=keys, openclaw_version=settings.openclaw_version
            ),
            wait_bootstrapped=lambda instance: wait_bootstrapped(
                ssh, instance, settings.bootstrap_timeout_s, poll_interval_s=poll_interval_s
            ),
            activate=activate,
            restart_gateway=restart_gateway,
            claim_warm_instance=claim_warm_instance if settings.warm_pool_size > 0 else None,
            managed_bot_maker=ManagedBotMaker(bot_api, main_bot_token),
            refund_on_failure=settings.refund_on_failure,
            pool_wait_limit=timedelta(hours=settings.pool_wait_limit_hours),
        )
        saga = ProvisioningSaga(deps)

        async def refund(claimed: Claimed) -> None:
            if payments is None:
                raise PermanentError("STRIPE_SECRET_KEY is not set: cannot refund")
            try:
                await run_refund_job(payments, queue, claimed.job.payload)
            except PaymentError as exc:
                if not exc.retryable:
                    raise PermanentError(str(exc)) from None
                raise

        async def notify(claimed: Claimed) -> None:
            await deliver_customer_message(messenger, claimed.job.payload)

        async def deliver_alert(claimed: Claimed) -> None:
            await handle_deliver_alert(delivery, claimed.job.payload)

        async def account_check(claimed: Claimed) -> None:
            await handle_account_check(pool, claimed.job.payload)
            await wake_pool_waiters()

        async def check_accounts() -> None:
            await pool.check_all()
            await wake_pool_waiters()

        handlers: dict[str, Handler] = {
            job_kinds.PROVISION: saga.run,
            job_kinds.NOTIFY_CUSTOMER: notify,
            job_kinds.DELIVER_ALERT: deliver_alert,
            job_kinds.REFUND_ORDER: refund,
            job_kinds.ACCOUNT_CHECK: account_check,
            # the owner's bot description/photo after go-live, through its creator account
            job_kinds.BOT_PROFILE: BotProfiles(pool, queue, avatar_loader).handle,
            **care.handlers(),
        }
        sweeps = [
            Sweep("stale_leases", 30 * sweep_scale, queue.reclaim_expired),
            Sweep(
                "abandoned_orders",
                60 * sweep_scale,
                lambda: saga.release_abandoned(settings.job_lease_seconds),
            ),
            Sweep("accounts", 600 * sweep_scale, check_accounts),
            # an account put back in service (accounts enable, /accounts) resumes waiting orders soon
            Sweep("pool_waiters", 60 * sweep_scale, wake_pool_waiters),
            # a paid customer who has not opened their ownership link yet is reminded, with the button
            Sweep("link_reminders", 300 * sweep_scale, lambda: remind_unused_links(queue)),
            *care.sweeps(
                health_interval=300 * sweep_scale,
                expiry_interval=600 * sweep_scale,
                warm_pool_interval=60 * sweep_scale,
            ),
        ]
        yield Runtime(
            settings=settings,
            queue=queue,
            bot_api=bot_api,
            saga=saga,
            handlers=handlers,
            on_dead={job_kinds.PROVISION: saga.compensate},
            sweeps=sweeps,
            extras={
                "fleet": fleet,
                "ssh": ssh,
                "pool": pool,
                "payments": payments,
                "care": care,
                "delivery": delivery,
            },
        )
