"""The bot's profile after go-live from /mybots: a description or photo, validated, queued as a
`bot_profile` job for the owner's own live agent; an attacker's press or forged data queues nothing."""

from __future__ import annotations

from aiogram.types import PhotoSize

from models import Customer, InstanceStatus, Job, TelegramAccount
from services.jobs.kinds import BOT_PROFILE
from tests.bot.harness import BotHarness, FakeUser, joined, last_sent
from tests.handlers.test_customer_agent import MALLORY, live_agent, page


async def _pool_agent(owner: FakeUser, username: str, status: InstanceStatus = InstanceStatus.ACTIVE):
    instance = await live_agent(owner, username, status)
    account = await TelegramAccount.create(phone="+15550000001", api_id=1, api_hash="h" * 32)
    instance.creator_account = account
    await instance.save()
    return instance


async def test_the_owner_sets_a_validated_description_and_a_photo_and_each_is_queued_for_their_bot(
    harness: BotHarness, alice: FakeUser
) -> None:
    instance = await _pool_agent(alice, "alice_one_bot")
    shown = last_sent(await harness.press(alice, page(instance)))
    assert "🖼 Profile" in shown.markup_texts
    asked = last_sent(await harness.press(alice, page(instance, "profile")))
    assert "description" in asked.text and "@alice_one_bot" in asked.text and "512" in asked.text

    too_long = last_sent(await harness.send(alice, "x" * 513))
    assert "513 characters long; the limit is 512" in too_long.text
    hidden = last_sent(await harness.send(alice, "Hi\u202e there"))
    assert "invisible or control characters" in hidden.text
    assert not await Job.filter(kind=BOT_PROFILE).exists()

    queued = last_sent(await harness.send(alice, "<b>My</b> helper & friend"))
    assert "Changing it now" in queued.text
    job = await Job.get(kind=BOT_PROFILE)
    assert job.payload == {
        "instance_id": instance.id,
        "notify_chat_id": alice.id,
        "description": "<b>My</b> helper & friend",
    }

    await harness.press(alice, page(instance, "profile"))
    tiny = [PhotoSize(file_id="tiny", file_unique_id="t", width=90, height=90)]
    assert "at least 150×150" in joined(await harness.send(alice, None, photo=tiny))
    photo = [
        PhotoSize(file_id="small", file_unique_id="s", width=90, height=90),
        PhotoSize(file_id="big-photo", file_unique_id="b", width=640, height=640, file_size=50_000),
    ]
    await harness.send(alice, None, photo=photo)
    jobs = await Job.filter(kind=BOT_PROFILE).order_by("id")
    assert jobs[1].payload == {
        "instance_id": instance.id,
        "notify_chat_id": alice.id,
        "photo_file_id": "big-photo",
    }


async def test_an_agent_not_live_or_a_managed_bot_queues_nothing_and_says_why(
    harness: BotHarness, alice: FakeUser
) -> None:
    stopped = await _pool_agent(alice, "alice_old_bot", InstanceStatus.STOPPED)
    await harness.press(alice, page(stopped, "profile"))
    assert "not live" in last_sent(await harness.send(alice, "A helper")).text

    managed = await live_agent(alice, "alice_managed_bot")
    await managed.fetch_related("order")
    managed.order.creation_mode = "managed"
    await managed.order.save()
    await harness.press(alice, page(managed, "profile"))
    assert "@BotFather" in last_sent(await harness.send(alice, "A helper")).text
    assert not await Job.filter(kind=BOT_PROFILE).exists()


async def test_an_attacker_pressing_profile_on_someone_elses_agent_gets_nothing_and_queues_nothing(
    harness: BotHarness, alice: FakeUser
) -> None:
    instance = await _pool_agent(alice, "alice_one_bot")
    await Customer.create(telegram_id=MALLORY.id, full_name="Mallory")
    calls = await harness.press(MALLORY, page(instance, "profile"))
    assert "not one of yours" in next(c for c in calls if c.name == "AnswerCallbackQuery").text
    assert "alice_one_bot" not in joined(calls)
    assert not [c for c in calls if c.name in ("SendMessage", "EditMessageText")]
    # a description typed afterwards is no profile change at all
    await harness.send(MALLORY, "Scam bot, send money")
    assert not await Job.filter(kind=BOT_PROFILE).exists()
