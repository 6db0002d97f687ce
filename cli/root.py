"""The composition root: every long-lived client of a process, built ONCE from the settings inside
one `AsyncExitStack` and closed in reverse order when the command ends.

    async with open_root(settings, WORKER) as root:
        root.queue, root.bot, root.payments, root.background.fleet, ...

Each command says what it uses (`Needs`: `RUN`, `BOT`, `WEB`, `WORKER`, `COMMAND`) and gets only that,
from this same code; an operator command runs its body in one with `run_command(settings, body, needs)`.
Nothing here decides business rules; it only builds and connects the parts.
The aiogram Dispatcher receives the root's clients as workflow data (bot/factory.py), the aiohttp
application under its `web.AppKey`s (webhooks/app.py), the worker through cli/worker_wiring.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from config import Settings, secret_value
from services.infra.db import open_database
from services.jobs.queue import JobQueue

if TYPE_CHECKING:  # built lazily: `web` and the operator commands start without aiogram, boto or Telethon
    from aiogram import Bot, Dispatcher

    from bot.messenger import AiogramMessenger
    from services.accounts.bot_api import BotApi
    from services.accounts.pool import AccountPool, ClientFactory
    from services.cloud.ec2 import Ec2Fleet
    from services.cloud.host_keys import HostKeyPair
    from services.cloud.ssh import SshConnector
    from services.notifications.alert_delivery import AlertDelivery
    from services.payments.stripe_api import PaymentsService
    from services.provisioning.managed_bot_maker import ManagedBotMaker

log = logging.getLogger("meetmatt.runtime")

ADMIN_BOT_TIMEOUT_S = 15.0  # the admin alert bot: a stuck Bot API must not hold an alert job long


@dataclass(frozen=True)
class Needs:
    """What a command uses; the root builds nothing else."""

    database: bool = True  # False: the caller already has the ORM open (tests, benches)
    bot: bool = False  # the Meet Matt Bot, and the Messenger over it
    identify_bot: bool = False  # getMe first: proves BOT_TOKEN and names the payment return links
    payments: bool = False  # ONE Stripe client: Checkout in the bot, refunds in the worker
    pool: bool = False  # the creator-account pool alone (`accounts check`)
    background: bool = False  # what the worker's jobs talk to (`Background`)
    announce: bool = False  # a long-running process logs its database opening and closing


COMMAND = Needs()  # the operator commands: the database and the job queue
WEB = Needs(announce=True)
BOT = Needs(bot=True, identify_bot=True, payments=True, announce=True)
WORKER = Needs(bot=True, payments=True, background=True, announce=True)
RUN = Needs(bot=True, identify_bot=True, payments=True, background=True, announce=True)


@dataclass(frozen=True)
class Options:
    """Seams for the local stand-ins and the tests; production uses the defaults."""

    client_factory: ClientFactory | None = None  # None: Telethon on the account's session
    host_key_factory: Callable[[], HostKeyPair] | None = None  # None: a new ed25519 host key
    poll_interval_s: float = 10.0
    sweep_scale: float = 1.0
    import_env: bool = True  # creator accounts named in the environment are imported at start
    verify_key_pair: bool = True  # the EC2 key pair must hold the platform key (PlatformKeyMismatch)

    def telethon_clients(self) -> ClientFactory:
        from services.accounts.telethon_client import telethon_client_factory

        return self.client_factory or telethon_client_factory

    def host_keys(self) -> Callable[[], HostKeyPair]:
        from services.cloud.host_keys import generate_host_key

        return self.host_key_factory or generate_host_key


@dataclass(frozen=True)
class Background:
    """The clients the worker's jobs and sweeps talk to."""

    bot_api: BotApi  # the customers' bots
    fleet: Ec2Fleet
    ssh: SshConnector
    pool: AccountPool
    delivery: AlertDelivery
    managed_bots: ManagedBotMaker  # Telegram's managed bots (BOT_CREATION_MODE managed/auto)


@dataclass(frozen=True)
class Root:
    """Every long-lived client of this process (None: the command does not use it)."""

    settings: Settings
    queue: JobQueue
    options: Options = field(default_factory=Options)
    bot: Bot | None = None
    messenger: AiogramMessenger | None = None
    payments: PaymentsService | None = None
    pool: AccountPool | None = None
    background: Background | None = None


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@asynccontextmanager
async def open_root(
    settings: Settings, needs: Needs = COMMAND, options: Options | None = None
) -> AsyncIterator[Root]:
    """Build what `needs` asks for, in order (database, queue, bot, payments, background); close it in
    reverse order on exit. A failure half-way closes what was already built."""
    options = options or Options()
    async with AsyncExitStack() as stack:
        if needs.database:
            await stack.enter_async_context(
                open_database(
                    settings.database_url, secret_value(settings.encryption_key), announce=needs.announce
                )
            )
        queue = JobQueue(
            worker_id(), settings.job_lease_seconds, backoff_base=settings.job_backoff_base_seconds
        )
        bot = _open_bot(stack, settings) if needs.bot else None
        username = (await bot.me()).username if bot is not None and needs.identify_bot else None
        payments = _open_payments(stack, settings, username) if needs.payments else None
        background = await _open_background(stack, settings, queue, options) if needs.background else None
        pool = background.pool if background else None
        if needs.pool and pool is None:
            pool = _pool(settings, queue, options)
        yield Root(
            settings=settings,
            queue=queue,
            options=options,
            bot=bot,
            messenger=_messenger(bot) if bot is not None else None,
            payments=payments,
            pool=pool,
            background=background,
        )


def run_command(settings: Settings, body: Callable[[Root], Awaitable[int]], needs: Needs = COMMAND) -> int:
    """An operator command: open the root `needs` asks for, run `body(root)` in it, close the root;
    the body's exit code. (The long-running commands run under cli/signals.py instead.)"""

    async def main() -> int:
        async with open_root(settings, needs) as root:
            return await body(root)

    return asyncio.run(main())


def _open_bot(stack: AsyncExitStack, settings: Settings) -> Bot:
    from bot.factory import create_bot

    bot = create_bot(settings)
    stack.push_async_callback(bot.session.close)
    return bot


def _messenger(bot: Bot) -> AiogramMessenger:
    from bot.messenger import AiogramMessenger

    return AiogramMessenger(bot)


def _pool(settings: Settings, queue: JobQueue, options: Options) -> AccountPool:
    from services.accounts.pool import AccountPool

    return AccountPool(options.telethon_clients(), queue, bot_limit=settings.creator_bot_limit)


def _open_payments(
    stack: AsyncExitStack, settings: Settings, bot_username: str | None
) -> PaymentsService | None:
    """The process's one Stripe client; None without STRIPE_SECRET_KEY (Confirm says payments are off,
    a refund job fails naming the setting)."""
    from services.payments.stripe_api import PaymentsService, close_stripe_client, make_stripe_client

    if not secret_value(settings.stripe_secret_key):
        log.warning("payments unavailable: STRIPE_SECRET_KEY is not set")
        return None
    client = make_stripe_client(settings)
    stack.push_async_callback(close_stripe_client, client)
    return PaymentsService(client, settings.packages, bot_username=bot_username)


async def _open_background(
    stack: AsyncExitStack, settings: Settings, queue: JobQueue, options: Options
) -> Background:
    """The worker's clients. The ORM must be open: creator accounts in the environment are imported
    (encrypted) first, and the platform SSH key comes from the database."""

    from bot.factory import bots_for_tokens
    from cli.startup_checks import check_key_pair, import_environment_accounts
    from services.accounts.bot_api import BotApi
    from services.cloud.platform_key import load_platform_key
    from services.cloud.ssh import SshConnector
    from services.notifications.alert_delivery import AlertDelivery
    from services.provisioning.managed_bot_maker import ManagedBotMaker

    if options.import_env:
        await import_environment_accounts(queue, settings.creator_bot_limit)
    bot_api = BotApi(bots_for_tokens(settings))
    stack.push_async_callback(bot_api.close)
    platform_key = await load_platform_key(settings.ssh_private_key_path)
    fleet = await stack.enter_async_context(ec2_fleet(settings, platform_key.public_openssh))
    if options.verify_key_pair:
        await check_key_pair(fleet)
    admin = admin_messenger(settings)
    if admin is not None:
        stack.push_async_callback(admin.bot.session.close)
    delivery = AlertDelivery.from_settings(settings, messenger=admin)
    stack.push_async_callback(delivery.close)
    return Background(
        bot_api=bot_api,
        fleet=fleet,
        ssh=SshConnector.from_settings(settings, platform_key.private),
        pool=_pool(settings, queue, options),
        delivery=delivery,
        managed_bots=ManagedBotMaker(bot_api, secret_value(settings.bot_token) or ""),
    )


def dispatcher(root: Root) -> Dispatcher:
    """The bot's Dispatcher: the handlers' routers, the root's clients as workflow data."""
    from bot.factory import create_dispatcher
    from handlers import get_routers

    return create_dispatcher(
        root.settings, get_routers(root.settings), payments=root.payments, queue=root.queue
    )


def ec2_fleet(settings: Settings, platform_public_key: str) -> Ec2Fleet:
    """The EC2 fleet (opened with `async with`), its key pair holding the platform SSH key."""
    from services.cloud.ec2 import Ec2Fleet

    return Ec2Fleet(settings, platform_public_key=platform_public_key)


def admin_messenger(settings: Settings) -> AiogramMessenger | None:
    """The Messenger alerts reach the admin chat through: the admin bot's own (ADMIN_TELEGRAM_BOT_TOKEN,
    else BOT_TOKEN), with a short timeout so a stuck Bot API never holds an alert job long. The caller
    closes its bot's session. None without an admin chat."""
    from bot.factory import api_session, create_bot
    from bot.messenger import AiogramMessenger
    from services.notifications.alert_delivery import admin_bot_token

    token = admin_bot_token(settings)
    if token is None:
        return None
    return AiogramMessenger(create_bot(settings, api_session(settings, ADMIN_BOT_TIMEOUT_S), token=token))
