"""The creator-account pool: which Telegram user account talks to @BotFather for an order.

Rules (DESIGN section 4, issue 5):
- pick the usable account with the best (lowest) priority, preferring one that is not busy in this
  process; usable = active (or cooling down / limited with the rest period over), with a session,
  below its bot cap;
- one BotFather dialogue per account at a time: an asyncio.Lock per account id in this process and,
  on PostgreSQL, an advisory lock per account across processes (many workers, one database);
- an account-level failure (Telethon's FloodWait, restriction, ban, dead session; BotFather's "too
  many attempts", bot limit, "cannot create new bots") records status, cooldown_until and
  last_error, alerts the admins, and the same order fails over to the next account;
- when no account can serve, `PoolExhausted(retry_at)` tells the caller when to try again (the
  earliest cooldown end) and the admins get ONE "pool exhausted" alert (a fixed dedup key);
- every status change is alerted: to a problem state as a warning/critical alert, back to active as info.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tortoise.expressions import F

from models import AccountStatus, TelegramAccount
from services.accounts.account_status import (
    RESTING,
    AccountStatusBook,
    AccountUnavailable,
    effective_status,
    usable,
)
from services.accounts.botfather import (
    BotFatherDialogue,
    BotFatherRefused,
    BotFatherTimeout,
    BotFatherUnexpected,
)
from services.accounts.botfather_replies import Outcome, Reply
from services.accounts.created_bot import CreatedBot
from services.accounts.telethon_errors import AccountProblem, classify, describe
from services.infra.db import dialect
from services.infra.logging_setup import secrets
from services.infra.pg_locks import advisory_lock
from services.jobs.queue import JobQueue, utcnow

log = logging.getLogger(__name__)

ClientFactory = Callable[[TelegramAccount], Any]
T = TypeVar("T")

# statuses in which an account may still run /token and /deletebot for bots it already owns
CAN_MANAGE_OWN_BOTS = frozenset(
    {AccountStatus.ACTIVE, AccountStatus.COOLING_DOWN, AccountStatus.LIMITED, AccountStatus.FULL}
)
ADVISORY_LOCK_NAMESPACE = 0x4D4D_0001  # pg_advisory_lock(namespace, account id): "MM" + creator accounts


class _AccountFailure(Exception):
    def __init__(self, problem: AccountProblem) -> None:
        super().__init__(problem.reason)
        self.problem = problem


class AccountPool:
    """Creator accounts from the database, used one dialogue at a time each, with failover and alerts."""

    def __init__(
        self,
        client_factory: ClientFactory,
        queue: JobQueue,
        *,
        reply_timeout: float = 30.0,
        bot_limit: int = 20,
        clock: Callable[[], datetime] = utcnow,
        default_attempts_wait: int = 600,
        limited_rest: timedelta = timedelta(hours=24),
        idle_retry: timedelta = timedelta(hours=1),
    ) -> None:
        self.client_factory = client_factory
        self.queue = queue
        self.reply_timeout = reply_timeout
        self.bot_limit = bot_limit
        self.clock = clock
        self.default_attempts_wait = default_attempts_wait  # "too many attempts" without a number
        self._locks: dict[int, asyncio.Lock] = {}
        self._busy: dict[int, int] = {}  # holders + waiters per account, to spread parallel orders
        self.book = AccountStatusBook(
            queue, clock=clock, bot_limit=bot_limit, limited_rest=limited_rest, idle_retry=idle_retry
        )

    # --- selection -------------------------------------------------------------------------------

    def _lock(self, account_id: int) -> asyncio.Lock:
        return self._locks.setdefault(account_id, asyncio.Lock())

    def cap(self, account: TelegramAccount) -> int:
        return self.book.cap(account)

    def _effective_status(self, account: TelegramAccount, now: datetime) -> AccountStatus:
        return effective_status(account, now)

    def _usable(self, account: TelegramAccount, now: datetime) -> bool:
        return usable(account, now, self.cap(account))

    async def _candidates(self, exclude: set[int]) -> list[TelegramAccount]:
        now = self.clock()
        accounts = await TelegramAccount.filter(status__in=[AccountStatus.ACTIVE, *RESTING]).order_by(
            "priority", "id"
        )
        usable = []
        for account in accounts:
            if account.status == AccountStatus.ACTIVE and account.created_bots >= self.cap(account):
                await self.book.mark_full(account)
                continue
            if account.id not in exclude and self._usable(account, now):
                usable.append(account)
        # a free account beats a busy one of better priority: parallel orders spread out
        usable.sort(key=lambda a: (self._busy.get(a.id, 0), a.priority, a.id))
        return usable

    # --- the public operations -------------------------------------------------------------------

    async def create_bot(
        self,
        *,
        name: str,
        username_candidates: Sequence[str],
        description: str,
        about: str,
        photo: bytes | None,
        on_username_chosen: Callable[[int, str], Awaitable[None]],
        on_created: Callable[[int, str], Awaitable[None]] | None = None,
    ) -> CreatedBot:
        """Create a bot on the best account, failing over on account-level failures.

        `on_username_chosen(account_id, username)` is awaited BEFORE the username is sent to
        BotFather, `on_created(account_id, username)` right after BotFather's success reply.
        Raises PoolExhausted when no account can serve; UsernamesExhausted when every
        candidate was refused; BotFatherTimeout (and network errors) as they come, since BotFather
        may have acted: the caller resumes with `recover_token` for the recorded username.
        """
        tried: set[int] = set()
        while True:
            candidates = await self._candidates(tried)
            if not candidates:
                raise await self.book.exhausted()
            account_id = candidates[0].id
            tried.add(account_id)

            async def chosen(username: str, account_id: int = account_id) -> None:
                await on_username_chosen(account_id, username)

            async def created(username: str, account_id: int = account_id) -> None:
                if on_created is not None:
                    await on_created(account_id, username)

            async def dialogue(d: BotFatherDialogue) -> Any:
                return await d.create_bot(
                    name, list(username_candidates), description, about, photo, chosen, created
                )

            async with self._holding(account_id):
                account = await TelegramAccount.get_or_none(id=account_id)
                if account is None or not self._usable(account, self.clock()):
                    continue  # changed while this order waited for the account
                try:
                    creation = await self._talk(account, dialogue)
                except _AccountFailure as failure:
                    await self.book.record_problem(account, failure.problem)
                    continue
                await self.book.record_success(account, created=True)
            secrets.add(creation.token)
            log.info("bot created", extra={"account_id": account_id, "username": creation.username})
            return CreatedBot(creation.username, creation.token, account_id, creation.warnings)

    async def recover_token(self, account_id: int, username: str) -> str | None:
        """The token of `username` from the account that created it (/token); None if it has no such bot.

        Raises AccountUnavailable when that account cannot talk to BotFather now or ever.
        """

        async def dialogue(d: BotFatherDialogue) -> Any:
            return await d.recover_token(username)

        token = await self._own_bot_operation(account_id, dialogue)
        if token:
            secrets.add(token)
        return token

    async def set_profile(
        self, account_id: int, username: str, *, description: str = "", photo: bytes | None = None
    ) -> list[str]:
        """The bot's description and/or photo, set by the account that created it. Returns the steps
        BotFather refused; raises AccountUnavailable when that account cannot talk to BotFather now."""

        async def dialogue(d: BotFatherDialogue) -> Any:
            return await d.set_profile(username, description, photo)

        return list(await self._own_bot_operation(account_id, dialogue))

    async def owned_bots(self, account_id: int) -> set[str]:
        """The usernames (lower case) of the bots the account owns, as BotFather lists them (/mybots)."""

        async def dialogue(d: BotFatherDialogue) -> Any:
            return await d.owned_bots()

        return set(await self._own_bot_operation(account_id, dialogue))

    async def delete_bot(self, account_id: int, username: str) -> bool:
        """/deletebot on the owning account. True if deleted, False if the account has no such bot."""

        async def dialogue(d: BotFatherDialogue) -> Any:
            return await d.delete_bot(username)

        deleted = bool(await self._own_bot_operation(account_id, dialogue))
        if deleted:
            await TelegramAccount.filter(id=account_id, created_bots__gt=0).update(
                created_bots=F("created_bots") - 1
            )
            account = await TelegramAccount.get(id=account_id)
            if account.status == AccountStatus.FULL and account.created_bots < self.cap(account):
                await self.book.set_status(
                    account, AccountStatus.ACTIVE, None, f"@{username} deleted: room again"
                )
        return deleted

    async def check_account(self, account_id: int) -> AccountStatus:
        """Health check: connect, is_user_authorized, get_me. Status changes are alerted."""
        async with self._holding(account_id):
            account = await TelegramAccount.get(id=account_id)
            if account.status == AccountStatus.DISABLED:
                return AccountStatus.DISABLED
            problem: AccountProblem | None = None
            if not account.session:
                problem = AccountProblem(
                    AccountStatus.SESSION_DEAD, None, "no session stored: run `python main.py accounts login`"
                )
            else:
                client = self.client_factory(account)
                try:
                    await client.connect()
                    if not await client.is_user_authorized():
                        problem = AccountProblem(
                            AccountStatus.SESSION_DEAD,
                            None,
                            "the session is no longer authorised: log in again",
                        )
                    elif await client.get_me() is None:
                        problem = AccountProblem(AccountStatus.SESSION_DEAD, None, "get_me returned nothing")
                except Exception as exc:  # noqa: BLE001 - classified below; unknown errors change nothing
                    problem = classify(exc)
                    if problem is None:
                        await TelegramAccount.filter(id=account.id).update(
                            last_error=f"health check failed: {describe(exc)}"
                        )
                        log.warning(
                            "account health check failed",
                            extra={"account_id": account.id, "error": describe(exc)},
                        )
                        return AccountStatus(account.status)
                finally:
                    await _disconnect(client)
            if problem is not None:
                return await self.book.record_problem(account, problem)
            now = self.clock()
            healthy_again = account.status in (AccountStatus.SESSION_DEAD, AccountStatus.BANNED) or (
                account.status in RESTING and self._effective_status(account, now) is AccountStatus.ACTIVE
            )
            if healthy_again:
                await self.book.set_status(account, AccountStatus.ACTIVE, None, "health check passed")
            return AccountStatus(account.status)

    async def check_all(self) -> dict[int, AccountStatus]:
        """Health-check every account that is not disabled, in parallel (each under its own lock)."""
        ids = (
            await TelegramAccount.exclude(status=AccountStatus.DISABLED)
            .order_by("id")
            .values_list("id", flat=True)
        )
        results = await asyncio.gather(*(self.check_account(i) for i in ids))
        return dict(zip(ids, results, strict=True))

    # --- internals -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _holding(self, account_id: int) -> AsyncIterator[None]:
        """This account for one dialogue: the in-process lock, then (PostgreSQL) the cross-process one."""
        self._busy[account_id] = self._busy.get(account_id, 0) + 1
        try:
            async with self._lock(account_id), _cross_process_lock(account_id):
                yield
        finally:
            self._busy[account_id] -= 1

    async def _talk(self, account: TelegramAccount, work: Callable[[BotFatherDialogue], Awaitable[T]]) -> T:
        """Connect the account's client, run one dialogue, disconnect; account-level errors re-raised."""
        client = self.client_factory(account)
        try:
            await client.connect()
            if not await client.is_user_authorized():
                raise _AccountFailure(
                    AccountProblem(
                        AccountStatus.SESSION_DEAD, None, "the session is no longer authorised: log in again"
                    )
                )
            return await work(BotFatherDialogue(client, reply_timeout=self.reply_timeout))
        except BotFatherRefused as exc:
            raise _AccountFailure(self._problem_from_reply(exc.reply, str(exc))) from exc
        except (BotFatherTimeout, BotFatherUnexpected, OSError) as exc:
            await TelegramAccount.filter(id=account.id).update(
                last_error=describe(exc), last_used=self.clock()
            )
            raise
        except _AccountFailure:
            raise
        except Exception as exc:
            problem = classify(exc)
            if problem is None:
                raise
            raise _AccountFailure(problem) from exc
        finally:
            await _disconnect(client)

    def _problem_from_reply(self, reply: Reply, reason: str) -> AccountProblem:
        if reply.outcome is Outcome.TOO_MANY_ATTEMPTS:
            wait = reply.seconds or self.default_attempts_wait
            return AccountProblem(AccountStatus.COOLING_DOWN, wait, reason)
        if reply.outcome is Outcome.BOT_LIMIT_REACHED:
            return AccountProblem(AccountStatus.FULL, None, reason)
        return AccountProblem(AccountStatus.LIMITED, None, reason)

    async def _own_bot_operation(
        self, account_id: int, work: Callable[[BotFatherDialogue], Awaitable[T]]
    ) -> T:
        async with self._holding(account_id):
            account = await TelegramAccount.get_or_none(id=account_id)
            if account is None:
                raise AccountUnavailable(account_id, None, None, "no such account")
            now = self.clock()
            if account.status not in CAN_MANAGE_OWN_BOTS or not account.session:
                raise AccountUnavailable(
                    account_id, AccountStatus(account.status), None, account.last_error or ""
                )
            if self._effective_status(account, now) is AccountStatus.COOLING_DOWN:
                raise AccountUnavailable(
                    account_id, AccountStatus.COOLING_DOWN, account.cooldown_until, account.last_error or ""
                )
            try:
                result = await self._talk(account, work)
            except _AccountFailure as failure:
                status = await self.book.record_problem(account, failure.problem)
                retry_at = account.cooldown_until if status in RESTING else None
                raise AccountUnavailable(account_id, status, retry_at, failure.problem.reason) from None
            await TelegramAccount.filter(id=account_id).update(last_used=self.clock())
            return result


@asynccontextmanager
async def _cross_process_lock(account_id: int) -> AsyncIterator[None]:
    """On PostgreSQL, an advisory lock per account, so workers in other processes wait too. SQLite
    deployments are one process, where the asyncio lock is enough."""
    if dialect() != "postgres":
        yield
        return
    async with advisory_lock(ADVISORY_LOCK_NAMESPACE, account_id):
        yield


async def _disconnect(client: Any) -> None:
    with suppress(Exception):
        result = client.disconnect()
        if inspect.isawaitable(result):
            await result


async def handle_account_check(pool: AccountPool, payload: dict[str, Any]) -> dict[str, str]:
    """The `account_check` job: one account ({"account_id": n}) or every account ({})."""
    if payload.get("account_id") is not None:
        account_id = int(payload["account_id"])
        return {str(account_id): (await pool.check_account(account_id)).value}
    return {str(k): v.value for k, v in (await pool.check_all()).items()}
