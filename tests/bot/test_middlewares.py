"""Middlewares: the per-user cooldown, the error boundary with its reference, the customer upsert."""

from __future__ import annotations

import logging

import pytest
from aiogram import Router

from bot import texts
from bot.callbacks import MenuCb, SupportCb
from bot.factory import create_dispatcher
from bot.middlewares import CooldownMiddleware
from handlers import get_routers
from models import Customer
from services.jobs.queue import JobQueue
from tests.bot.harness import BotHarness, FakeUser, button_data, joined


def test_cooldown_allows_one_update_per_window_and_warns_once() -> None:
    cooldown = CooldownMiddleware(1.0)
    assert cooldown.hit(1, now=10.0) == (True, False)
    assert cooldown.hit(1, now=10.2) == (False, True)  # the polite answer
    assert cooldown.hit(1, now=10.5) == (False, False)  # no answer flood
    assert cooldown.hit(2, now=10.5) == (True, False)  # per user
    assert cooldown.hit(1, now=11.01) == (True, False)  # next window


def test_cooldown_forgets_the_oldest_users_beyond_its_bound() -> None:
    cooldown = CooldownMiddleware(1.0, max_users=3)
    for user in range(5):
        cooldown.hit(user, now=1.0)
    assert cooldown.hit(0, now=1.1) == (True, False)  # forgotten, so allowed
    assert cooldown.hit(4, now=1.1) == (False, True)


@pytest.fixture
def throttled(db: str, settings, payments) -> BotHarness:
    return BotHarness.build(
        settings,
        create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue(), cooldown=30),
    )


async def test_a_fast_second_message_gets_one_polite_answer_and_is_not_handled(
    throttled: BotHarness, alice: FakeUser
) -> None:
    assert "Hi Alice" in joined(await throttled.send(alice, "/start"))
    assert joined(await throttled.send(alice, "/help")) == texts.THROTTLED
    assert await throttled.send(alice, "/help") == []
    calls = await throttled.press(alice, MenuCb(action="help").pack())
    assert [(c.name, c.text) for c in calls] == [("AnswerCallbackQuery", texts.THROTTLED_SHORT)]
    bob = FakeUser(id=500_009, first_name="Bob")
    assert "Hi Bob" in joined(await throttled.send(bob, "/start"))


async def test_error_boundary_answers_with_a_reference_that_is_in_the_log(
    db: str, settings, payments, alice: FakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    dp = create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue())
    boom = Router(name="boom")

    @boom.message()
    async def explode(message) -> None:
        raise RuntimeError("database on fire")

    @boom.callback_query()
    async def explode_too(callback) -> None:
        raise RuntimeError("still on fire")

    dp.include_router(boom)
    # a fresh dispatcher whose fallback would answer first: put the failing router before it
    dp.sub_routers.insert(0, dp.sub_routers.pop())
    h = BotHarness.build(settings, dp)
    with caplog.at_level(logging.ERROR, logger="bot"):
        calls = await h.send(alice, "hello")
    text = joined(calls)
    assert text.startswith("Sorry, something went wrong")
    reference = text.split("<code>")[1].split("</code>")[0]
    record = next(r for r in caplog.records if "handler failed" in r.getMessage())
    assert reference in record.getMessage() and record.exc_info is not None
    assert SupportCb.unpack(button_data(calls[-1], texts.BTN_SUPPORT)).reference == reference
    calls = await h.press(alice, "anything")
    assert calls[0].name == "AnswerCallbackQuery" and "reference" in calls[1].text
    assert texts.BTN_SUPPORT in calls[1].markup_texts


async def test_customer_is_created_then_updated_when_the_user_changes(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/help")
    await harness.send(alice, "/help")
    assert await Customer.all().count() == 1
    renamed = FakeUser(id=alice.id, first_name="Alicia", username="alicia", language_code="de")
    await harness.send(renamed, "/help")
    customer = await Customer.get(telegram_id=alice.id)
    assert (customer.full_name, customer.username, customer.language) == ("Alicia", "alicia", "de")
