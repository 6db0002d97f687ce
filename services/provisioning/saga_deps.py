"""Everything the provisioning saga talks to, passed in (tests hand it stand-ins over real sockets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from models import Instance, Order
from services.accounts.bot_api import BotApi
from services.cloud.ec2 import Ec2Fleet
from services.cloud.host_keys import HostKeyPair
from services.jobs.queue import JobQueue
from services.payments.packages import Package
from services.provisioning.bot_making import BotMaker
from services.provisioning.progress import ProgressReporter
from services.provisioning.verification import Verifier


@dataclass
class SagaDeps:
    queue: JobQueue
    fleet: Ec2Fleet
    bot_maker: BotMaker  # the creator-account pool (orders in "pool" mode)
    bot_api: BotApi
    verifier: Verifier
    progress: ProgressReporter
    packages: tuple[Package, ...]
    generate_host_key: Callable[[], HostKeyPair]
    render_user_data: Callable[[HostKeyPair], str]  # -> cloud-init user data
    wait_bootstrapped: Callable[[Instance], Awaitable[None]]
    # instance, bot token, owner's user id: the agent's config with a new model key (InstanceActions)
    activate: Callable[[Instance, str, int], Awaitable[None]]
    resume_stopped: Callable[[Instance], Awaitable[None]]  # a renewal of a STOPPED agent: start it again
    claim_warm_instance: Callable[[Order, str], Awaitable[Instance | None]] | None = None  # order, type
    managed_bot_maker: BotMaker | None = None  # Telegram's managed bots (orders in "managed" mode)
    refund_on_failure: bool = False
    pool_wait_limit: timedelta = timedelta(hours=48)  # a paid order waits this long for a creator account
    verification_window: float = 4.0  # seconds one job run listens for /start before yielding its slot
    verification_long_poll: int = 2
