"""What the worker checks when it starts, so a problem is named at start and not when a paid order
needs the part: creator accounts from the environment that cannot be imported, and an EC2 key pair
that does not hold the platform SSH key."""

from __future__ import annotations

import asyncio
import logging

from botocore.exceptions import BotoCoreError

from models import AlertSeverity
from services.accounts.env_import import import_env_accounts
from services.cloud.ec2 import Ec2Error, Ec2Fleet
from services.jobs.queue import JobQueue
from services.notifications.alerts import raise_alert

log = logging.getLogger("meetmatt.runtime")

# the start waits this long for EC2 to answer the key-pair check (one call, well under a second when
# AWS answers); the client's own retries against an unreachable endpoint take about 25 s
KEY_PAIR_CHECK_S = 10.0


async def import_environment_accounts(queue: JobQueue, bot_limit: int) -> None:
    """Import (encrypted) the creator accounts named in the environment (TELEGRAM_*,
    TELEGRAM_FALLBACK_<n>_*); the ones that fail are logged and alerted, naming variables, never values."""
    imported = await import_env_accounts(bot_limit=bot_limit)
    if not imported.errors:
        return
    for error in imported.errors:
        log.error("creator account from the environment not imported: %s", error)
    await raise_alert(
        queue,
        "env_accounts_not_imported",
        "Creator accounts in the environment could not be imported:\n- " + "\n- ".join(imported.errors),
        severity=AlertSeverity.WARNING,
    )


async def check_key_pair(fleet: Ec2Fleet, budget_s: float = KEY_PAIR_CHECK_S) -> None:
    """A mismatch stops the start (PlatformKeyMismatch); EC2 being unreachable, or not answering
    within `budget_s`, only delays the check to the first launch."""
    try:
        async with asyncio.timeout(budget_s):
            await fleet.ensure_key_pair()
    except (Ec2Error, BotoCoreError, TimeoutError) as exc:
        log.warning(
            "could not compare the EC2 key pair with the platform key now; it is checked again "
            "before the first launch",
            extra={"error": type(exc).__name__},
        )
