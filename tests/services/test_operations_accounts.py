"""services/operations/accounts: enable, disable, priority and the health checks, each with its audit
record; the same functions the bot's /accounts buttons and `python main.py accounts ...` call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import AccountStatus, AdminAction, Job, TelegramAccount
from services.accounts.pool import AccountPool
from services.jobs.kinds import ACCOUNT_CHECK
from services.jobs.queue import JobQueue, utcnow
from services.operations import accounts as operations
from services.operations.audit import Actor, NotFound, Refused

ADA = Actor(900_001, "@ada")


async def account(phone: str = "+15551234567", **fields: object) -> TelegramAccount:
    return await TelegramAccount.create(phone=phone, api_id=1, api_hash="f" * 32, **fields)


async def test_enabling_an_account_in_cooldown_clears_the_cooldown_and_says_so(db: str) -> None:
    acc = await account(status=AccountStatus.COOLING_DOWN, cooldown_until=utcnow() + timedelta(hours=1))
    done = await operations.enable_account(acc.id, ADA)
    stored = await TelegramAccount.get(id=acc.id)
    assert (stored.status, stored.cooldown_until) == (AccountStatus.ACTIVE, None)
    assert done.account.cooldown_until is None
    assert (done.audit.action, done.audit.target, done.audit.detail) == (
        "account_enable",
        f"account #{acc.id} …4567",
        "status cooling_down -> active, cooldown cleared",
    )
    assert (await AdminAction.get()).admin_telegram_id == ADA.telegram_id


async def test_enabling_a_disabled_account_without_cooldown_records_only_the_status(db: str) -> None:
    acc = await account(status=AccountStatus.DISABLED)
    done = await operations.enable_account(acc.id, Actor.cli())
    assert done.audit.detail == "status disabled -> active"
    assert done.audit.admin_telegram_id is None


async def test_disabling_keeps_the_cooldown_and_takes_the_account_out_of_service(db: str) -> None:
    until = utcnow() + timedelta(hours=1)
    acc = await account(status=AccountStatus.COOLING_DOWN, cooldown_until=until)
    done = await operations.disable_account(acc.id, ADA)
    stored = await TelegramAccount.get(id=acc.id)
    assert stored.status == AccountStatus.DISABLED and stored.cooldown_until is not None
    assert (done.audit.action, done.audit.detail) == ("account_disable", "status cooling_down -> disabled")


async def test_priority_is_set_and_recorded_from_to(db: str) -> None:
    acc = await account(priority=100)
    done = await operations.set_priority(acc.id, 7, ADA)
    assert (await TelegramAccount.get(id=acc.id)).priority == 7
    assert (done.audit.action, done.audit.detail) == ("account_priority", "priority 100 -> 7")
    with pytest.raises(Refused):
        await operations.set_priority(acc.id, 2**31, ADA)
    assert (await TelegramAccount.get(id=acc.id)).priority == 7


async def test_shifting_the_priority_moves_it_from_the_stored_value_and_records_from_to(db: str) -> None:
    acc = await account(priority=100)
    await TelegramAccount.filter(id=acc.id).update(priority=40)  # changed since the caller looked
    done = await operations.shift_priority(acc.id, -1, ADA)
    assert (await TelegramAccount.get(id=acc.id)).priority == 39
    assert (done.audit.action, done.audit.detail) == ("account_priority", "priority 40 -> 39")
    await TelegramAccount.filter(id=acc.id).update(priority=2**31 - 1)
    with pytest.raises(Refused):
        await operations.shift_priority(acc.id, 1, ADA)
    assert (await TelegramAccount.get(id=acc.id)).priority == 2**31 - 1


@pytest.mark.parametrize("account_id", [999, 0, -1, 2**31, 10**20])
async def test_an_unknown_or_impossible_account_id_is_not_found_and_leaves_no_record(
    db: str, account_id: int
) -> None:
    await account()
    for act in (operations.enable_account, operations.disable_account):
        with pytest.raises(NotFound, match=f"no creator account #{account_id}"):
            await act(account_id, ADA)
    with pytest.raises(NotFound):
        await operations.set_priority(account_id, 1, ADA)
    with pytest.raises(NotFound):
        await operations.shift_priority(account_id, 1, ADA)
    with pytest.raises(NotFound):
        await operations.queue_account_check(JobQueue("test"), account_id, ADA)
    assert await AdminAction.all().count() == 0 and await Job.all().count() == 0


async def test_a_queued_check_names_its_job_in_the_record(db: str) -> None:
    acc = await account()
    done = await operations.queue_account_check(JobQueue("test"), acc.id, ADA)
    job = await Job.get(kind=ACCOUNT_CHECK)
    assert job.payload == {"account_id": acc.id} and done.job.id == job.id and not done.already_queued
    assert (done.audit.action, done.audit.detail) == ("account_check", f"job #{job.id}")


async def test_a_check_here_and_now_records_each_outcome(db: str) -> None:
    no_session = await account()
    disabled = await account("+15559990000", status=AccountStatus.DISABLED, session="x")
    pool = AccountPool(lambda _: pytest.fail("no account here needs a client"), JobQueue("test"))
    one = await operations.check_accounts_now(pool, disabled.id, Actor.cli())
    assert one == {disabled.id: AccountStatus.DISABLED}
    every = await operations.check_accounts_now(pool, None, Actor.cli())
    assert every == {no_session.id: AccountStatus.SESSION_DEAD}  # a disabled account is not checked
    details = await AdminAction.all().order_by("id").values_list("target", "detail")
    assert details == [
        (f"account #{disabled.id} …0000", "checked now: disabled"),
        (f"account #{no_session.id} …4567", "checked now: session_dead"),
    ]
    with pytest.raises(NotFound):
        await operations.check_accounts_now(pool, 999, Actor.cli())
