"""Creator accounts: enable, disable, set or shift the priority, health-check (queued, or now for the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from models import AccountStatus, AdminAction, TelegramAccount
from services.jobs.kinds import ACCOUNT_CHECK
from services.jobs.queue import JobQueue
from services.operations.audit import Actor, NotFound, QueuedJob, Refused, record, valid_id

if TYPE_CHECKING:  # the pool (and Telethon) load only where an account is checked here and now
    from services.accounts.pool import AccountPool

PRIORITY_RANGE = range(-(2**31), 2**31)  # the column is 32-bit; lower is tried first


@dataclass(frozen=True)
class AccountChange:
    """The account as saved after the action, and the audit record it left."""

    account: TelegramAccount
    audit: AdminAction


async def _account(account_id: int) -> TelegramAccount:
    account = await TelegramAccount.get_or_none(id=account_id) if valid_id(account_id) else None
    if account is None:
        raise NotFound(f"no creator account #{account_id}")
    return account


def _target(account: TelegramAccount) -> str:
    return f"account #{account.id} {account.masked_phone}"


async def _set_status(account_id: int, status: AccountStatus, action: str, actor: Actor) -> AccountChange:
    account = await _account(account_id)
    detail = f"status {AccountStatus(account.status).value} -> {status.value}"
    account.status = status
    fields = ["status", "updated_at"]
    if status is AccountStatus.ACTIVE and account.cooldown_until is not None:
        # a cooldown still ahead would keep the pool from picking the account it was just told to use
        account.cooldown_until = None
        fields.append("cooldown_until")
        detail += ", cooldown cleared"
    await account.save(update_fields=fields)
    return AccountChange(account, await record(actor, action, _target(account), detail))


async def enable_account(account_id: int, actor: Actor) -> AccountChange:
    """Put an account back in service: active, any cooldown cleared, so the pool may pick it now."""
    return await _set_status(account_id, AccountStatus.ACTIVE, "account_enable", actor)


async def disable_account(account_id: int, actor: Actor) -> AccountChange:
    """Take an account out of service until an admin enables it again."""
    return await _set_status(account_id, AccountStatus.DISABLED, "account_disable", actor)


async def _save_priority(account: TelegramAccount, priority: int, actor: Actor) -> AccountChange:
    if priority not in PRIORITY_RANGE:
        raise Refused(f"priority {priority} is out of range")
    detail = f"priority {account.priority} -> {priority}"
    account.priority = priority
    await account.save(update_fields=["priority", "updated_at"])
    return AccountChange(account, await record(actor, "account_priority", _target(account), detail))


async def set_priority(account_id: int, priority: int, actor: Actor) -> AccountChange:
    """Set the order in which the pool tries accounts (lower first)."""
    return await _save_priority(await _account(account_id), priority, actor)


async def shift_priority(account_id: int, delta: int, actor: Actor) -> AccountChange:
    """Move an account `delta` from its stored priority (negative: tried sooner), as the bot's
    up/down buttons do; one read of the row, the same audit record as `set_priority`."""
    account = await _account(account_id)
    return await _save_priority(account, account.priority + delta, actor)


async def queue_account_check(queue: JobQueue, account_id: int, actor: Actor) -> QueuedJob:
    """Queue a health check of one account (connect, session, get_me); the worker runs it."""
    account = await _account(account_id)
    job = await queue.enqueue(ACCOUNT_CHECK, {"account_id": account.id})
    audit = await record(actor, "account_check", _target(account), f"job #{job.id}")
    return QueuedJob(job, already_queued=False, audit=audit)


async def check_accounts_now(
    pool: AccountPool, account_id: int | None, actor: Actor
) -> dict[int, AccountStatus]:
    """Health-check one account (or every account not disabled) here and now, for an operator who
    waits for the answer; each check is audited like a queued one, with its outcome."""
    if account_id is not None:
        await _account(account_id)
        results = {account_id: await pool.check_account(account_id)}
    else:
        results = await pool.check_all()
    for checked_id, status in results.items():
        account = await TelegramAccount.get(id=checked_id)
        await record(actor, "account_check", _target(account), f"checked now: {status.value}")
    return results
