"""The creator-account pool over a scripted BotFather raising Telethon's real errors (both databases)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

import pytest
from telethon import errors

from models import AccountStatus, Alert, AlertSeverity, Job, TelegramAccount
from services.accounts.account_status import AccountUnavailable, PoolExhausted
from services.accounts.botfather import UsernamesExhausted
from services.accounts.created_bot import CreatedBot
from services.accounts.pool import AccountPool, handle_account_check
from services.jobs.kinds import DELIVER_ALERT, PROVISION
from services.jobs.queue import JobQueue, utcnow
from tests.standins import botfather as bf
from tests.standins.botfather import ScriptedTelegram, SimulatedCrash, fake_string_session

PRIMARY, FALLBACK, THIRD = "+15550000001", "+15550000002", "+15550000003"


class Clock:
    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _account(phone: str, priority: int, **values) -> TelegramAccount:
    return await TelegramAccount.create(
        phone=phone,
        api_id=1000 + priority,
        api_hash=secrets.token_hex(16),
        session=fake_string_session(),
        priority=priority,
        **values,
    )


def _pool(world: ScriptedTelegram, queue: JobQueue, **kw) -> AccountPool:
    return AccountPool(world.client_for, queue, reply_timeout=1.0, **kw)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    async def __call__(self, account_id: int, username: str) -> None:
        self.calls.append((account_id, username))


async def _create(pool: AccountPool, candidates: list[str], on_chosen=None) -> CreatedBot:
    return await pool.create_bot(
        name="Matt",
        username_candidates=candidates,
        description="An agent",
        about="About",
        photo=None,
        on_username_chosen=on_chosen or Recorder(),
    )


async def _alerts(kind: str | None = None) -> list[Alert]:
    query = Alert.all().order_by("id")
    return await (query.filter(kind=kind) if kind else query)


async def test_primary_banned_fails_over_to_the_fallback_in_the_same_order_with_one_alert(db: str) -> None:
    world = ScriptedTelegram()
    primary, fallback = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    world.fail(PRIMARY, "/newbot", errors.UserDeactivatedBanError(request=None))
    queue = JobQueue("test")
    chosen = Recorder()

    created = await _create(_pool(world, queue), ["ann_agent_bot"], chosen)

    assert created.account_id == fallback.id and created.username == "ann_agent_bot"
    assert created.token == world.bots["ann_agent_bot"].token
    assert world.created == [(FALLBACK, "ann_agent_bot")]
    assert chosen.calls == [(fallback.id, "ann_agent_bot")]
    await primary.refresh_from_db()
    await fallback.refresh_from_db()
    assert primary.status == AccountStatus.BANNED
    assert "UserDeactivatedBanError" in primary.last_error
    assert (fallback.status, fallback.created_bots, primary.created_bots) == (AccountStatus.ACTIVE, 1, 0)
    alerts = await _alerts()
    assert len(alerts) == 1
    assert alerts[0].kind == "account_status" and alerts[0].severity == AlertSeverity.CRITICAL
    assert f"#{primary.id}" in alerts[0].text and "banned" in alerts[0].text and PRIMARY not in alerts[0].text
    assert await Job.filter(kind=DELIVER_ALERT).count() == 1


async def test_flood_wait_120s_records_the_cooldown_and_the_account_rests_until_it_ends(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    primary, fallback = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    world.fail(PRIMARY, "/newbot", errors.FloodWaitError(request=None, capture=120))
    pool = _pool(world, JobQueue("test"), clock=clock)

    first = await _create(pool, ["first_order_bot"])
    assert first.account_id == fallback.id
    await primary.refresh_from_db()
    assert primary.status == AccountStatus.COOLING_DOWN
    assert primary.cooldown_until == clock.now + timedelta(seconds=120)
    assert "FloodWaitError" in primary.last_error

    clock.advance(119)  # still resting: the primary is not even contacted
    second = await _create(pool, ["second_order_bot"])
    assert second.account_id == fallback.id
    assert world.connects[PRIMARY] == 1

    clock.advance(2)  # the cooldown is over: the primary (better priority) serves again
    third = await _create(pool, ["third_order_bot"])
    assert third.account_id == primary.id
    await primary.refresh_from_db()
    assert (primary.status, primary.cooldown_until, primary.created_bots) == (AccountStatus.ACTIVE, None, 1)
    kinds = [(a.kind, a.severity) for a in await _alerts()]
    assert kinds == [("account_status", AlertSeverity.WARNING), ("account_status", AlertSeverity.INFO)]


async def test_all_accounts_cooling_the_order_waits_and_completes_after_earliest_cooldown(db: str) -> None:
    world = ScriptedTelegram()
    primary, _ = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    world.fail(PRIMARY, "/newbot", errors.FloodWaitError(request=None, capture=1))
    world.fail(FALLBACK, "/newbot", errors.FloodWaitError(request=None, capture=300))
    queue = JobQueue("test")
    pool = _pool(world, queue)
    job = await queue.enqueue(PROVISION, {"order_id": 1})

    claimed = await queue.claim([PROVISION])
    with pytest.raises(PoolExhausted) as caught:
        await _create(pool, ["waiting_order_bot"])
    await primary.refresh_from_db()
    assert caught.value.retry_at == primary.cooldown_until  # the earliest cooldown end
    await queue.reschedule(claimed, caught.value.retry_at, str(caught.value))
    await job.refresh_from_db()
    assert job.run_after == primary.cooldown_until and job.attempts == 0

    for _ in range(2):  # more orders meanwhile: still ONE "pool exhausted" alert
        with pytest.raises(PoolExhausted):
            await _create(pool, [f"other_{secrets.token_hex(3)}_bot"])
    assert world.connects[PRIMARY] == 1 and world.connects[FALLBACK] == 1

    deadline = asyncio.get_running_loop().time() + 10
    while (claimed := await queue.claim([PROVISION])) is None:
        assert asyncio.get_running_loop().time() < deadline, "the job never became due"
        await asyncio.sleep(0.05)
    created = await _create(pool, ["waiting_order_bot"])
    await queue.complete(claimed)
    assert created.account_id == primary.id
    assert world.created == [(PRIMARY, "waiting_order_bot")]
    exhausted = await _alerts("pool_exhausted")
    assert len(exhausted) == 1
    assert exhausted[0].count == 3 and exhausted[0].severity == AlertSeverity.CRITICAL
    delivery_jobs = await Job.filter(kind=DELIVER_ALERT).values_list("payload", flat=True)
    assert sum(1 for p in delivery_jobs if p["alert_id"] == exhausted[0].id) == 1


async def test_no_account_that_can_recover_retries_after_the_idle_interval_and_says_so(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    await _account(PRIMARY, 10, status=AccountStatus.BANNED)
    with pytest.raises(PoolExhausted) as caught:
        pool = _pool(world, JobQueue("test"), clock=clock, idle_retry=timedelta(minutes=30))
        await _create(pool, ["x_bot1"])
    assert caught.value.retry_at == clock.now + timedelta(minutes=30)
    [alert] = await _alerts("pool_exhausted")
    assert "accounts login" in alert.text


async def test_username_taken_twice_then_the_third_candidate_is_used(db: str) -> None:
    world = ScriptedTelegram(taken={"wanted_bot", "wanted_7_bot"})
    primary = await _account(PRIMARY, 10)
    chosen = Recorder()
    created = await _create(
        _pool(world, JobQueue("test")), ["wanted_bot", "wanted_7_bot", "wanted_8_bot"], chosen
    )
    assert created.username == "wanted_8_bot"
    assert chosen.calls == [(primary.id, u) for u in ("wanted_bot", "wanted_7_bot", "wanted_8_bot")]
    assert world.created == [(PRIMARY, "wanted_8_bot")]


async def test_every_candidate_taken_is_an_order_problem_not_an_account_one(db: str) -> None:
    world = ScriptedTelegram(taken={"a_wanted_bot"})
    primary = await _account(PRIMARY, 10)
    with pytest.raises(UsernamesExhausted):
        await _create(_pool(world, JobQueue("test")), ["a_wanted_bot"])
    await primary.refresh_from_db()
    assert primary.status == AccountStatus.ACTIVE
    assert await _alerts() == []


async def test_crash_after_newbot_resumes_with_token_and_never_creates_a_second_bot(db: str) -> None:
    world = ScriptedTelegram()
    primary = await _account(PRIMARY, 10)
    await _account(FALLBACK, 20)
    world.crash_after_create(PRIMARY)
    queue = JobQueue("worker-1", lease_seconds=60)
    await queue.enqueue(PROVISION, {"order_id": 7})
    claimed = await queue.claim([PROVISION])

    async def record(account_id: int, username: str) -> None:  # what the saga does
        await queue.save_step(claimed, "bot_chosen", {"account_id": account_id, "username": username})

    with pytest.raises(SimulatedCrash):
        await _create(_pool(world, queue), ["crashy_order_bot"], record)

    # a new process: reads the recorded choice, asks /token, never sends a second /newbot
    job = await Job.get(id=claimed.id)
    chosen = job.state["bot_chosen"]
    assert chosen == {"account_id": primary.id, "username": "crashy_order_bot"}
    fresh_pool = _pool(world, JobQueue("worker-2"))
    token = await fresh_pool.recover_token(chosen["account_id"], chosen["username"])
    assert token == world.bots["crashy_order_bot"].token
    assert world.created == [(PRIMARY, "crashy_order_bot")]
    assert [text for _, text in world.sent].count("/newbot") == 1
    assert await fresh_pool.recover_token(primary.id, "never_made_bot") is None


async def test_twenty_concurrent_orders_on_three_accounts_never_overlap_on_one_account(db: str) -> None:
    world = ScriptedTelegram(latency=0.002)
    accounts = [await _account(phone, 10 * (i + 1)) for i, phone in enumerate((PRIMARY, FALLBACK, THIRD))]
    pool = _pool(world, JobQueue("test"))

    results = await asyncio.gather(*(_create(pool, [f"order_{n}_agent_bot"]) for n in range(20)))

    assert world.overlaps == []
    assert all(world.max_parallel[a.phone] == 1 for a in accounts)
    assert sorted(r.username for r in results) == sorted(f"order_{n}_agent_bot" for n in range(20))
    assert len(world.created) == 20 and len({r.token for r in results}) == 20
    per_account = {a.id: (await TelegramAccount.get(id=a.id)).created_bots for a in accounts}
    assert sum(per_account.values()) == 20
    assert all(n > 0 for n in per_account.values()), per_account  # parallel orders spread out
    for account in accounts:
        assert per_account[account.id] == len(world.bots_of(account.phone))


async def test_two_worker_processes_never_overlap_on_one_account(db: str, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("several worker processes need PostgreSQL; a SQLite deployment is one process")
    world = ScriptedTelegram(latency=0.002)
    accounts = [await _account(phone, 10 * (i + 1)) for i, phone in enumerate((PRIMARY, FALLBACK, THIRD))]
    # two pools = two workers: their in-process locks know nothing of each other
    worker_a, worker_b = _pool(world, JobQueue("a")), _pool(world, JobQueue("b"))
    orders = [
        _create(worker, [f"w{n}_{name}_agent_bot"])
        for n in range(6)
        for name, worker in (("a", worker_a), ("b", worker_b))
    ]
    results = await asyncio.gather(*orders)
    assert world.overlaps == []
    assert all(world.max_parallel[a.phone] == 1 for a in accounts)
    assert len(world.created) == 12 and len({r.username for r in results}) == 12


async def test_the_account_is_marked_full_at_its_cap_and_full_accounts_are_skipped(db: str) -> None:
    world = ScriptedTelegram()
    primary = await _account(PRIMARY, 10, created_bots=19)
    fallback = await _account(FALLBACK, 20)
    pool = _pool(world, JobQueue("test"), bot_limit=20)
    assert (await _create(pool, ["nineteenth_plus_bot"])).account_id == primary.id
    await primary.refresh_from_db()
    assert (primary.status, primary.created_bots) == (AccountStatus.FULL, 20)
    assert (await _create(pool, ["next_one_bot"])).account_id == fallback.id
    [alert] = await _alerts()
    assert "full" in alert.text


async def test_botfather_bot_limit_and_too_many_attempts_replies_change_the_account_status(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    primary, fallback = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    third = await _account(THIRD, 30)
    world.reply(PRIMARY, "/newbot", bf.BOT_LIMIT)
    world.reply(FALLBACK, "/newbot", bf.TOO_MANY_ATTEMPTS.format(seconds=45))
    created = await _create(_pool(world, JobQueue("test"), clock=clock), ["limits_bot"])
    assert created.account_id == third.id
    await primary.refresh_from_db()
    await fallback.refresh_from_db()
    assert primary.status == AccountStatus.FULL
    assert fallback.status == AccountStatus.COOLING_DOWN
    assert fallback.cooldown_until == clock.now + timedelta(seconds=45)
    assert len(await _alerts("account_status")) == 2


@pytest.mark.parametrize(
    "error", [errors.AuthKeyUnregisteredError(request=None), errors.SessionRevokedError(request=None)]
)
async def test_a_dead_session_marks_the_account_and_fails_over(db: str, error: Exception) -> None:
    world = ScriptedTelegram()
    primary, fallback = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    world.fail(PRIMARY, "connect", error)
    assert (await _create(_pool(world, JobQueue("test")), ["session_bot"])).account_id == fallback.id
    await primary.refresh_from_db()
    assert primary.status == AccountStatus.SESSION_DEAD


async def test_restricted_account_rests_a_day_then_is_tried_again(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    primary, _ = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    world.fail(PRIMARY, "/newbot", errors.PeerFloodError(request=None))
    pool = _pool(world, JobQueue("test"), clock=clock)
    await _create(pool, ["limited_one_bot"])
    await primary.refresh_from_db()
    assert primary.status == AccountStatus.LIMITED
    assert primary.cooldown_until == clock.now + timedelta(hours=24)
    clock.advance(24 * 3600 + 1)
    assert (await _create(pool, ["limited_two_bot"])).account_id == primary.id


async def test_health_check_records_status_changes_and_alerts_once_per_change(db: str) -> None:
    world = ScriptedTelegram()
    primary, fallback = await _account(PRIMARY, 10), await _account(FALLBACK, 20)
    third = await _account(THIRD, 30)
    disabled = await _account("+15550000004", 40, status=AccountStatus.DISABLED)
    world.deauthorize(FALLBACK)
    world.fail(THIRD, "get_me", errors.UserDeactivatedBanError(request=None))
    pool = _pool(world, JobQueue("test"))

    assert await pool.check_all() == {
        primary.id: AccountStatus.ACTIVE,
        fallback.id: AccountStatus.SESSION_DEAD,
        third.id: AccountStatus.BANNED,
    }
    assert len(await _alerts("account_status")) == 2
    assert await pool.check_account(disabled.id) == AccountStatus.DISABLED
    # a second sweep with nothing new changes nothing and alerts nothing new
    assert await handle_account_check(pool, {"account_id": fallback.id}) == {str(fallback.id): "session_dead"}
    assert len(await _alerts("account_status")) == 2
    alert = await Alert.get(kind="account_status", dedup_key=f"account:{fallback.id}:session_dead")
    assert alert.count == 1


async def test_health_check_brings_back_an_account_whose_session_works_again(db: str) -> None:
    world = ScriptedTelegram()
    account = await _account(PRIMARY, 10, status=AccountStatus.SESSION_DEAD, last_error="old")
    pool = _pool(world, JobQueue("test"))
    assert await handle_account_check(pool, {}) == {str(account.id): "active"}
    [alert] = await _alerts()
    assert alert.severity == AlertSeverity.INFO and "active again" in alert.text


async def test_health_check_network_trouble_changes_no_status(db: str) -> None:
    world = ScriptedTelegram()
    account = await _account(PRIMARY, 10)
    world.fail(PRIMARY, "connect", ConnectionError("Connection to Telegram failed 5 time(s)"))
    assert await _pool(world, JobQueue("test")).check_account(account.id) == AccountStatus.ACTIVE
    await account.refresh_from_db()
    assert "ConnectionError" in account.last_error
    assert await _alerts() == []


async def test_delete_bot_frees_room_on_a_full_account(db: str) -> None:
    world = ScriptedTelegram()
    primary = await _account(PRIMARY, 10, created_bots=19)
    pool = _pool(world, JobQueue("test"))
    created = await _create(pool, ["to_delete_bot"])
    assert (await TelegramAccount.get(id=primary.id)).status == AccountStatus.FULL
    assert await pool.delete_bot(primary.id, created.username) is True
    assert world.deleted == [(PRIMARY, "to_delete_bot")] and world.bots == {}
    account = await TelegramAccount.get(id=primary.id)
    assert (account.status, account.created_bots) == (AccountStatus.ACTIVE, 19)
    assert await pool.delete_bot(primary.id, "to_delete_bot") is False


async def test_recover_token_on_a_resting_account_says_when_to_retry(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    until = clock.now + timedelta(seconds=300)
    account = await _account(PRIMARY, 10, status=AccountStatus.COOLING_DOWN, cooldown_until=until)
    banned = await _account(FALLBACK, 20, status=AccountStatus.BANNED)
    pool = _pool(world, JobQueue("test"), clock=clock)
    with pytest.raises(AccountUnavailable) as caught:
        await pool.recover_token(account.id, "some_bot")
    assert caught.value.retry_at == until
    with pytest.raises(AccountUnavailable) as caught:
        await pool.recover_token(banned.id, "some_bot")
    assert caught.value.retry_at is None and caught.value.status == AccountStatus.BANNED
    assert world.connects == {}


async def test_flood_wait_during_token_recovery_records_the_cooldown(db: str) -> None:
    world = ScriptedTelegram()
    clock = Clock()
    account = await _account(PRIMARY, 10)
    world.fail(PRIMARY, "/token", errors.FloodWaitError(request=None, capture=60))
    with pytest.raises(AccountUnavailable) as caught:
        await _pool(world, JobQueue("test"), clock=clock).recover_token(account.id, "some_bot")
    assert caught.value.retry_at == clock.now + timedelta(seconds=60)
    await account.refresh_from_db()
    assert account.status == AccountStatus.COOLING_DOWN


async def test_no_secret_reaches_alerts_or_last_error(db: str) -> None:
    world = ScriptedTelegram()
    primary = await _account(PRIMARY, 10)
    await _account(FALLBACK, 20)
    world.fail(PRIMARY, "/newbot", errors.AuthKeyDuplicatedError(request=None))
    created = await _create(_pool(world, JobQueue("test")), ["secretive_bot"])
    await primary.refresh_from_db()
    texts = [a.text for a in await _alerts()] + [primary.last_error]
    for text in texts:
        assert created.token not in text
        assert primary.session not in text and primary.api_hash not in text
        assert PRIMARY not in text


async def test_the_real_client_factory_builds_a_telethon_client_that_never_sleeps_on_flood_waits() -> None:
    from telethon import TelegramClient

    from services.accounts.telethon_client import telethon_client_factory

    account = TelegramAccount(
        phone=PRIMARY, api_id=12345, api_hash=secrets.token_hex(16), session=fake_string_session()
    )
    client = telethon_client_factory(account)
    assert isinstance(client, TelegramClient)
    assert client.flood_sleep_threshold == 0  # the pool records the wait and fails over instead
    assert client.session.save() == account.session
