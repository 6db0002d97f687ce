"""The worker's messages reach each customer in their language, through the bot's Messenger."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import SendMessage

from bot.factory import create_bot
from bot.messenger import AiogramMessenger
from models import Customer
from services.jobs.queue import utcnow
from services.notifications.customers import deliver_customer_message, queue_customer_message
from services.provisioning.customer_notices import FINAL, act_button, act_text, reminder_text
from tests.bot.fixtures import make_settings
from tests.bot.harness import RecordingSession


async def _sent(session: RecordingSession) -> SendMessage:
    [call] = [c.method for c in session.calls if isinstance(c.method, SendMessage)]
    return call


async def test_a_russian_customer_gets_the_your_turn_message_and_button_in_russian_escaped(db: str) -> None:
    await Customer.create(telegram_id=700_100, full_name="Иван", language="ru")
    session = RecordingSession()
    messenger = AiogramMessenger(create_bot(make_settings(), session=session))
    link = "https://t.me/ivan_x_bot?start=c0de"
    await messenger.send(700_100, act_text("ivan_<x>_bot"), [act_button("ivan_<x>_bot", link)])
    sent = await _sent(session)
    assert sent.text.startswith("👉 <b>Ваш ход:</b> откройте @ivan_&lt;x&gt;_bot кнопкой ниже")
    [[button]] = sent.reply_markup.inline_keyboard
    assert button.text == "Открыть @ivan_<x>_bot и нажать «Старт»" and button.url == link  # plain text


async def test_a_queued_reminder_is_rendered_at_delivery_in_the_language_chosen(db: str) -> None:
    from models import Job
    from services.jobs.queue import JobQueue

    await Customer.create(telegram_id=700_101, full_name="Ann", language="en", locale="ru")  # chose Russian
    now = utcnow()
    await queue_customer_message(
        JobQueue("t", 30), 700_101, reminder_text("ann_bot", FINAL, now + timedelta(minutes=95), now)
    )
    session = RecordingSession()
    await deliver_customer_message(
        AiogramMessenger(create_bot(make_settings(), session=session)), (await Job.get()).payload
    )
    sent = await _sent(session)
    assert "Последнее напоминание" in sent.text and "1 ч 35 мин" in sent.text


async def test_an_english_or_unknown_customer_gets_english(db: str) -> None:
    session = RecordingSession()
    await AiogramMessenger(create_bot(make_settings(), session=session)).send(700_102, act_text(None))
    assert (await _sent(session)).text.startswith("👉 <b>Your turn:</b> open your new bot")


async def test_the_new_bots_verification_replies_and_the_reason_an_order_ended_are_in_the_customers_language(
    db: str,
) -> None:
    from services.notifications.customer_text import decode, encode
    from services.notifications.customers import render_for
    from services.provisioning.verification import CUSTOMER_REASONS, VERIFICATION_REPLIES, StartOutcome

    await Customer.create(telegram_id=700_103, full_name="Иван", language="ru")
    messenger = AiogramMessenger(create_bot(make_settings(), session=RecordingSession()))
    verified = await render_for(messenger, 700_103, VERIFICATION_REPLIES[StartOutcome.VERIFIED])
    assert verified.startswith("✅ Подтверждено: этот агент ваш")
    # every reply the new bot can send has its Russian
    for outcome, text in VERIFICATION_REPLIES.items():
        assert await render_for(messenger, 700_103, text) != text.english(), outcome
    # the reason survives the job's JSON state and is rendered in Russian when the failure is shown
    reason = decode(encode(CUSTOMER_REASONS[StartOutcome.EXPIRED]))
    assert (await render_for(messenger, 700_103, reason)).startswith("Ссылку, подтверждающую, что бот ваш")
    # an English customer, or a messenger with no catalogue, gets English
    assert (await render_for(messenger, 700_104, reason)).startswith("The link to prove this bot is yours")
