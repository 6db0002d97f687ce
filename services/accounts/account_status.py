"""A creator account's status as the pool records it: problems (with their rest period), successes
(the bot cap reached: FULL), every change alerted to the admins, and the one "pool exhausted" alert
saying when orders can go on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F

from models import AccountStatus, AlertSeverity, TelegramAccount
from services.accounts.telethon_errors import AccountProblem
from services.jobs.queue import JobQueue, utcnow
from services.notifications.alerts import raise_alert

log = logging.getLogger("services.accounts.pool")

# statuses that end by themselves when cooldown_until passes
RESTING = frozenset({AccountStatus.COOLING_DOWN, AccountStatus.LIMITED})
_SEVERITY = {
    AccountStatus.ACTIVE: AlertSeverity.INFO,
    AccountStatus.COOLING_DOWN: AlertSeverity.WARNING,
    AccountStatus.LIMITED: AlertSeverity.WARNING,
    AccountStatus.FULL: AlertSeverity.WARNING,
    AccountStatus.BANNED: AlertSeverity.CRITICAL,
    AccountStatus.SESSION_DEAD: AlertSeverity.CRITICAL,
    AccountStatus.DISABLED: AlertSeverity.INFO,
}
POOL_EXHAUSTED_KEY = "pool:exhausted"


class PoolExhausted(Exception):
    """No creator account can serve now. Retry at `retry_at` (the earliest cooldown end)."""

    def __init__(self, retry_at: datetime, summary: str = "") -> None:
        super().__init__(
            f"no creator account can create a bot now; retry at {retry_at.isoformat()}"
            + (f" ({summary})" if summary else "")
        )
        self.retry_at = retry_at


class AccountUnavailable(Exception):
    """The one account that owns a bot cannot talk to BotFather now (retry_at) or ever (retry_at None)."""

    def __init__(
        self, account_id: int, status: AccountStatus | None, retry_at: datetime | None, reason: str = ""
    ) -> None:
        when = f"retry at {retry_at.isoformat()}" if retry_at else "it will not recover by itself"
        super().__init__(
            f"creator account #{account_id} is {status or 'missing'}: {when}"
            + (f" ({reason})" if reason else "")
        )
        self.account_id = account_id
        self.status = status
        self.retry_at = retry_at


def effective_status(account: TelegramAccount, now: datetime) -> AccountStatus:
    """The status in effect: a rest (cooling down, limited) whose cooldown passed is active again."""
    if account.status in RESTING and account.cooldown_until is not None and account.cooldown_until <= now:
        return AccountStatus.ACTIVE
    return AccountStatus(account.status)


def bot_cap(account: TelegramAccount, pool_limit: int) -> int:
    """How many bots this account may create: its own limit, never above the pool's (CREATOR_BOT_LIMIT)."""
    return min(account.bot_limit or pool_limit, pool_limit)


def usable(account: TelegramAccount, now: datetime, cap: int) -> bool:
    """Whether the pool may pick this account for a new bot now: active in effect (a rest that is
    over counts), no cooldown still running, a session, and fewer bots than `cap` (see `bot_cap`)."""
    if effective_status(account, now) is not AccountStatus.ACTIVE:
        return False
    if account.cooldown_until is not None and account.cooldown_until > now:
        return False
    return bool(account.session) and account.created_bots < cap


class AccountStatusBook:
    """Records what happened to an account and tells the admins when its status changes."""

    def __init__(
        self,
        queue: JobQueue,
        *,
        clock: Callable[[], datetime] = utcnow,
        bot_limit: int = 20,
        limited_rest: timedelta = timedelta(hours=24),
        idle_retry: timedelta = timedelta(hours=1),
    ) -> None:
        self.queue = queue
        self.clock = clock
        self.bot_limit = bot_limit
        self.limited_rest = limited_rest  # a limited account is tried again after this
        self.idle_retry = idle_retry  # retry_at when no account will recover by itself
        self._alert_lock = asyncio.Lock()

    def cap(self, account: TelegramAccount) -> int:
        return bot_cap(account, self.bot_limit)

    async def record_problem(self, account: TelegramAccount, problem: AccountProblem) -> AccountStatus:
        now = self.clock()
        if problem.cooldown_seconds:
            cooldown: datetime | None = now + timedelta(seconds=problem.cooldown_seconds)
        elif problem.status == AccountStatus.LIMITED:
            cooldown = now + self.limited_rest
        else:
            cooldown = None
        await self.set_status(account, problem.status, cooldown, problem.reason)
        log.warning(
            "creator account problem",
            extra={"account_id": account.id, "status": problem.status.value, "reason": problem.reason},
        )
        return problem.status

    async def record_success(self, account: TelegramAccount, *, created: bool) -> None:
        now = self.clock()
        was = effective_status(account, now)
        values: dict[str, Any] = {"last_used": now}
        if created:
            values["created_bots"] = F("created_bots") + 1
        await TelegramAccount.filter(id=account.id).update(**values)
        await account.refresh_from_db()
        if account.created_bots >= self.cap(account):
            await self.mark_full(account)
        elif account.status != AccountStatus.ACTIVE and was is AccountStatus.ACTIVE:
            await self.set_status(account, AccountStatus.ACTIVE, None, "rest period over; created a bot")

    async def mark_full(self, account: TelegramAccount) -> None:
        """The account made as many bots as its cap allows: out of the rotation while it is at its cap."""
        reason = f"{account.created_bots} bots created (cap {self.cap(account)})"
        await self.set_status(account, AccountStatus.FULL, None, reason)

    async def set_status(
        self, account: TelegramAccount, status: AccountStatus, cooldown_until: datetime | None, reason: str
    ) -> None:
        """Store a status (and why), alerting the admins when it differs from what was in effect."""
        now = self.clock()
        stored, effective = AccountStatus(account.status), effective_status(account, now)
        account.status = status
        account.cooldown_until = cooldown_until
        fields = ["status", "cooldown_until", "updated_at"]
        if status is not AccountStatus.ACTIVE:
            account.last_error = reason[:2000]
            fields.append("last_error")
        await account.save(update_fields=fields)
        if stored is status and effective is status:
            return  # nothing new (a rest that ended and begins again is new: effective was active)
        until = f" until {cooldown_until:%Y-%m-%d %H:%M:%S} UTC" if cooldown_until else ""
        text = (
            f"Creator account #{account.id} ({account.masked_phone}) is now {status.value}{until}: {reason}"
        )
        if status is AccountStatus.ACTIVE:
            text = f"Creator account #{account.id} ({account.masked_phone}) is active again: {reason}"
        async with self._alert_lock:
            await raise_alert(
                self.queue,
                "account_status",
                text,
                severity=_SEVERITY[status],
                dedup_key=f"account:{account.id}:{status.value}",
            )

    async def exhausted(self) -> PoolExhausted:
        now = self.clock()
        accounts = await TelegramAccount.all().order_by("priority", "id")
        comebacks = [
            a.cooldown_until
            for a in accounts
            if a.status in (AccountStatus.ACTIVE, *RESTING)
            and a.session
            and a.cooldown_until is not None
            and a.cooldown_until > now
            and a.created_bots < self.cap(a)
        ]
        retry_at = min(comebacks) if comebacks else now + self.idle_retry
        summary = "; ".join(f"#{a.id} {a.masked_phone} {a.status}" for a in accounts) or "no accounts at all"
        text = (
            f"No creator account can create bots: orders are waiting until "
            f"{retry_at:%Y-%m-%d %H:%M:%S} UTC. Accounts: {summary}."
        )
        if not comebacks:
            text += " None recovers by itself: add one with `python main.py accounts login`."
        async with self._alert_lock:
            await raise_alert(
                self.queue,
                "pool_exhausted",
                text,
                severity=AlertSeverity.CRITICAL,
                dedup_key=POOL_EXHAUSTED_KEY,
            )
        return PoolExhausted(retry_at, summary)
