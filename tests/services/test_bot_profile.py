"""The `bot_profile` job over the scripted BotFather: the creator account sets the owner's bot
description and photo, the owner is told when it is done or why not, and a job naming someone else's
agent changes nothing (both databases)."""

from __future__ import annotations

import secrets

import pytest
from telethon import errors

from models import AccountStatus, Customer, Instance, InstanceStatus, Job, Order, OrderStatus, TelegramAccount
from services.accounts.pool import AccountPool
from services.agents.profile import BotProfiles, ProfileOutcome, request_profile
from services.jobs.kinds import BOT_PROFILE, NOTIFY_CUSTOMER
from services.jobs.queue import JobQueue
from services.jobs.worker import PermanentError
from services.notifications.customer_text import decode, plain
from tests.standins.botfather import ScriptedTelegram, fake_string_session

PHONE = "+15550000001"
PHOTO = b"\xff\xd8\xff\xe0 a jpeg"


async def _world_with_a_live_agent(owner_id: int = 4242) -> tuple[ScriptedTelegram, AccountPool, Instance]:
    world = ScriptedTelegram()
    account = await TelegramAccount.create(
        phone=PHONE, api_id=1001, api_hash=secrets.token_hex(16), session=fake_string_session(), priority=10
    )
    pool = AccountPool(world.client_for, JobQueue("test"), reply_timeout=1.0)

    async def chosen(account_id: int, username: str) -> None:
        return None

    created = await pool.create_bot(
        name="Ann",
        username_candidates=["ann_agent_bot"],
        description="",
        about="",
        photo=None,
        on_username_chosen=chosen,
    )
    customer = await Customer.create(telegram_id=owner_id, full_name="Ann")
    order = await Order.create(
        customer=customer,
        package="starter",
        bot_name="Ann",
        bot_username=created.username,
        status=OrderStatus.ACTIVE,
    )
    instance = await Instance.create(
        order=order,
        customer=customer,
        status=InstanceStatus.ACTIVE,
        bot_username=created.username,
        creator_account=account,
        owner_telegram_id=owner_id,
    )
    return world, pool, instance


async def _told(queue: JobQueue) -> list[str]:
    return [plain(decode(j.payload["text"])) for j in await Job.filter(kind=NOTIFY_CUSTOMER).order_by("id")]


async def _run(queue: JobQueue, profiles: BotProfiles) -> None:
    claimed = await queue.claim([BOT_PROFILE])
    assert claimed is not None
    await profiles.handle(claimed)
    await queue.complete(claimed)


async def test_the_creator_account_sets_the_description_then_the_photo_and_the_owner_is_told_each_time(
    db: str,
) -> None:
    world, pool, instance = await _world_with_a_live_agent()
    queue = JobQueue("test")
    customer = await Customer.get(telegram_id=4242)

    async def load(file_id: str) -> bytes | None:
        return PHOTO if file_id == "photo-1" else None

    profiles = BotProfiles(pool, queue, load)
    assert (
        await request_profile(queue, customer, instance.id, description="My <b>helper</b>")
        == ProfileOutcome.QUEUED
    )
    await _run(queue, profiles)
    assert world.bots["ann_agent_bot"].description == "My <b>helper</b>"
    assert (
        await request_profile(queue, customer, instance.id, photo_file_id="photo-1") == ProfileOutcome.QUEUED
    )
    await _run(queue, profiles)
    assert world.bots["ann_agent_bot"].photo == PHOTO
    assert world.bots["ann_agent_bot"].description == "My <b>helper</b>"  # the photo left it alone
    assert await _told(queue) == [
        "✅ @ann_agent_bot's description is updated. Telegram shows it on the bot's profile.",
        "✅ @ann_agent_bot's photo is updated.",
    ]


async def test_a_photo_that_cannot_be_read_or_a_banned_creator_account_is_told_and_changes_nothing(
    db: str,
) -> None:
    world, pool, instance = await _world_with_a_live_agent()
    queue = JobQueue("test")
    customer = await Customer.get(telegram_id=4242)

    async def nothing(file_id: str) -> bytes | None:
        return None

    profiles = BotProfiles(pool, queue, nothing)
    await request_profile(queue, customer, instance.id, photo_file_id="gone")
    await _run(queue, profiles)
    world.fail(PHONE, "/setdescription", errors.UserDeactivatedBanError(request=None))
    await request_profile(queue, customer, instance.id, description="New words")
    await _run(queue, profiles)
    told = await _told(queue)
    assert "photo could not be read again" in told[0]
    assert "cannot reach Telegram now" in told[1] and "was not changed" in told[1]
    assert world.bots["ann_agent_bot"].photo is None and world.bots["ann_agent_bot"].description == ""
    assert (await TelegramAccount.get(phone=PHONE)).status == AccountStatus.BANNED


async def test_an_attacker_cannot_change_someone_elses_bot_by_request_or_by_a_forged_job(db: str) -> None:
    world, pool, instance = await _world_with_a_live_agent()
    queue = JobQueue("test")
    mallory = await Customer.create(telegram_id=666, full_name="Mallory")
    assert await request_profile(queue, mallory, instance.id, description="Scam") == ProfileOutcome.NOT_FOUND
    assert not await Job.filter(kind=BOT_PROFILE).exists()
    # a job naming Alice's agent but Mallory's chat (forged or stale) dies without touching the bot
    await queue.enqueue(
        BOT_PROFILE,
        {"instance_id": instance.id, "notify_chat_id": mallory.telegram_id, "description": "Scam"},
    )
    claimed = await queue.claim([BOT_PROFILE])
    with pytest.raises(PermanentError):
        await BotProfiles(pool, queue, None).handle(claimed)
    assert world.bots["ann_agent_bot"].description == ""
    assert not await Job.filter(kind=NOTIFY_CUSTOMER).exists()
