"""Paid orders parked while no creator account can make a bot: the signal the saga raises, the
reason their jobs carry, and the sweep that wakes them as soon as an account can serve again."""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.expressions import Q

from models import AccountStatus, Job, JobStatus, TelegramAccount
from services.jobs import kinds as job_kinds
from services.jobs.queue import utcnow

log = logging.getLogger("meetmatt.provisioning")

# a job parked for the creator pool carries this reason (Job.last_error), so it can be woken early
POOL_WAIT_REASON = "no creator account is free"


class PoolWait(Exception):  # noqa: N818 - a signal: no creator account can serve right now
    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"{POOL_WAIT_REASON} until {retry_at.isoformat()}")
        self.retry_at = retry_at


async def wake_pool_waiters() -> int:
    """Provision jobs parked until a creator account frees up run now if one can serve again.

    A job that found the pool exhausted waits until the earliest cooldown ends, or an hour when no
    account recovers by itself; an account enabled or healthy again in the meantime should not
    leave paid orders waiting out that hour. Returns how many jobs were woken.
    """
    now = utcnow()
    serving = await TelegramAccount.filter(
        Q(cooldown_until=None) | Q(cooldown_until__lte=now),
        status__in=[AccountStatus.ACTIVE, AccountStatus.COOLING_DOWN, AccountStatus.LIMITED],
    ).exists()
    if not serving:
        return 0
    woken = await Job.filter(
        kind=job_kinds.PROVISION,
        status=JobStatus.PENDING,
        run_after__gt=now,
        last_error__startswith=POOL_WAIT_REASON,
    ).update(run_after=now, updated_at=now)
    if woken:
        log.info("a creator account can serve again: waiting orders resume", extra={"jobs": woken})
    return woken
