"""A customer is spoken to in their language: a Russian Telegram app gets Russian from /start to the
Pay button (hostile input still escaped), /language switches and is remembered, others get English."""

from __future__ import annotations

import re

from aiogram.types import PhotoSize

from bot import texts
from bot.callbacks import EditCb, LanguageCb, MenuCb, OrderCb, PackageCb
from bot.i18n import I18N
from models import Customer, Order
from tests.bot.harness import BotHarness, Call, FakeUser, joined, last_sent

CYRILLIC = re.compile("[а-яА-ЯёЁ]")
ENGLISH_WORDS = re.compile(
    r"\b(the|your|you|and|please|send|tap|order|package|name|username|pay|agent)\b", re.IGNORECASE
)


def _shown(calls: list[Call]) -> list[str]:
    """Every text the customer sees from these calls: messages, alerts and button labels."""
    shown: list[str] = []
    for call in calls:
        text = getattr(call.method, "text", None)
        if text:
            shown.append(text)
        shown.extend(call.markup_texts)
    return shown


def _assert_russian(calls: list[Call]) -> None:
    for text in _shown(calls):
        without_usernames = re.sub(r"@?\w+_bot\b|<[^>]+>|https?://\S+", "", text)
        if not re.search(r"[A-Za-zА-Яа-я]", without_usernames):
            continue  # only a username, a number or a price
        assert CYRILLIC.search(without_usernames), f"not Russian: {text!r}"
        assert not ENGLISH_WORDS.search(without_usernames), f"English left in: {text!r}"


async def test_a_russian_speaking_customer_goes_from_start_to_pay_entirely_in_russian(
    harness: BotHarness, stripe_api
) -> None:
    ivan = FakeUser(id=500_777, first_name="Иван", username="ivan", language_code="ru")
    journey: list[Call] = []
    journey += await harness.send(ivan, "/start")
    assert "Привет, Иван!" in journey[-1].text and "29,00" in journey[-1].text
    journey += await harness.press(ivan, MenuCb(action="new").pack())
    journey += await harness.press(ivan, PackageCb(code="starter").pack())
    journey += await harness.send(ivan, "Помощник <b>Ивана</b>")
    journey += await harness.send(ivan, "ivan helper")  # refused: a space
    assert "латинские буквы" in journey[-1].text
    journey += await harness.press(ivan, OrderCb(action="suggest").pack())
    summary = last_sent(journey)  # the username leads straight to the summary
    assert "Всё верно?" in summary.text
    journey += await harness.press(ivan, OrderCb(action="edit").pack())  # the optional extras, in Russian
    journey += await harness.press(ivan, EditCb(field="description").pack())
    journey += await harness.send(ivan, "Планирует мою неделю")
    journey += await harness.press(ivan, OrderCb(action="edit").pack())
    journey += await harness.press(ivan, EditCb(field="avatar").pack())
    photo = [PhotoSize(file_id="p", file_unique_id="p", width=640, height=640, file_size=50_000)]
    journey += await harness.send(ivan, None, photo=photo)
    summary = last_sent(journey)
    assert "Помощник &lt;b&gt;Ивана&lt;/b&gt;" in summary.text and "Всё верно?" in summary.text
    journey += await harness.press(ivan, OrderCb(action="confirm").pack())
    pay = last_sent(journey)
    assert pay.button("Оплатить").url.startswith(stripe_api.base_url)
    assert "Заказ <b>№" in pay.text
    journey += await harness.send(ivan, f"/start paid_{(await Order.get()).id}")

    _assert_russian(journey)
    assert len(_shown(journey)) > 20


async def test_language_command_switches_and_is_remembered_over_the_app_language(
    harness: BotHarness, alice: FakeUser
) -> None:
    calls = await harness.send(alice, "/language")
    assert last_sent(calls).text == texts.CHOOSE_LANGUAGE
    assert {"English", "Русский"} <= set(last_sent(calls).markup_texts)

    calls = await harness.press(alice, LanguageCb(code="ru").pack())
    assert "по-русски" in joined(calls)
    assert (await Customer.get(telegram_id=alice.id)).locale == "ru"
    calls = await harness.send(alice, "/help")  # her app still says "en"
    assert "Как это работает" in joined(calls)

    await harness.press(alice, LanguageCb(code="en").pack())
    assert "How it works" in joined(await harness.send(alice, "/help"))


async def test_a_forged_language_button_changes_nothing(harness: BotHarness, alice: FakeUser) -> None:
    calls = await harness.press(alice, LanguageCb(code="xx").pack())
    assert calls[0].name == "AnswerCallbackQuery" and calls[0].show_alert
    assert (await Customer.get(telegram_id=alice.id)).locale is None


async def test_an_app_in_a_language_we_do_not_speak_gets_english(harness: BotHarness) -> None:
    hans = FakeUser(id=500_778, first_name="Hans", username="hans", language_code="de")
    assert "How it works" in joined(await harness.send(hans, "/help"))


async def test_the_cooldown_and_the_error_boundary_answer_in_the_app_language(
    db: str, settings, payments
) -> None:
    from aiogram import Router

    from bot.factory import create_dispatcher
    from handlers import get_routers
    from services.jobs.queue import JobQueue

    ivan = FakeUser(id=500_779, first_name="Иван", username="ivan2", language_code="ru")
    dp = create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue(), cooldown=30)
    boom = Router(name="boom")

    @boom.message(lambda message: message.text == "boom")
    async def explode(message) -> None:
        raise RuntimeError("on fire")

    dp.include_router(boom)
    dp.sub_routers.insert(0, dp.sub_routers.pop())
    h = BotHarness.build(settings, dp)
    error = joined(await h.send(ivan, "boom"))
    with I18N.use_locale("ru"):
        assert error.startswith("Извините, у меня что-то пошло не так")
        assert joined(await h.send(ivan, "/help")) == texts.THROTTLED
