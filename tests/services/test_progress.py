"""Provisioning progress: pure rendering per step, and ONE message per order edited in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageText, SendMessage

from bot.factory import create_bot
from bot.messenger import AiogramMessenger
from models import Customer, Instance, Order, Verification
from services.jobs.queue import utcnow
from services.notifications.customer_text import Text, plain
from services.provisioning.progress import (
    ACTIVATING,
    CREATING_BOT,
    FAILED,
    LAUNCHING,
    LIVE,
    PAID,
    STEPS,
    VERIFY,
    WAITING_SERVER,
    ProgressReporter,
    progress_bar,
    render_progress,
)
from tests.bot.fixtures import make_settings
from tests.bot.harness import RecordingSession


def english(rendered: tuple[Text, list[tuple[Text, str]]]) -> tuple[str, list[tuple[str, str]]]:
    """A rendered progress message as an English customer sees it (labels are plain text)."""
    text, buttons = rendered
    return plain(text), [(plain(label, escape=False), url) for label, url in buttons]


@pytest.mark.parametrize(
    ("step", "bar", "words"),
    [
        (PAID, "▰▱▱▱▱▱", "Payment received"),
        (LAUNCHING, "▰▰▱▱▱▱", "Starting your server…"),
        (CREATING_BOT, "▰▰▱▱▱▱", "Creating your Telegram bot"),
        (WAITING_SERVER, "▰▰▰▱▱▱", "Waiting for your server"),
        (VERIFY, "▰▰▰▰▱▱", "prove it is yours"),
        (ACTIVATING, "▰▰▰▰▰▱", "Switching your agent on"),
        (LIVE, "▰▰▰▰▰▰", "Your agent is live"),
    ],
)
def test_each_step_renders_its_bar_and_words(step: str, bar: str, words: str) -> None:
    text, _ = english(render_progress(step))
    assert text.startswith(bar) and words in text


def test_verify_shows_the_deep_link_button() -> None:
    link = "https://t.me/tom_helper_bot?start=abc123"
    text, buttons = english(render_progress(VERIFY, deep_link=link, bot_username="tom_helper_bot"))
    assert buttons == [("Open @tom_helper_bot and press Start", link)]
    assert "press <b>Start</b>" in text and link not in text


def test_failure_says_where_and_what_happens_next_escaped() -> None:
    text, buttons = english(
        render_progress(LAUNCHING, failed=True, detail="We'll retry <soon> & refund if not")
    )
    assert "hit a problem" in text and "Starting your server" in text
    assert "What happens next:</b> We'll retry &lt;soon&gt; &amp; refund if not" in text
    assert buttons == []
    generic, _ = english(render_progress(FAILED))
    assert "retry or refund" in generic


def test_live_links_the_new_bot_and_unknown_steps_are_refused() -> None:
    text, buttons = english(render_progress(LIVE, bot_username="tom_helper_bot"))
    assert "@tom_helper_bot" in text and buttons == [("Open @tom_helper_bot", "https://t.me/tom_helper_bot")]
    with pytest.raises(ValueError, match="unknown progress step"):
        render_progress("dancing")
    assert progress_bar(9) == "▰" * 6 and set(STEPS) >= {PAID, LIVE}


class RecordingMessenger:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, list[tuple[str, str]] | None]] = []
        self.edits: list[tuple[int, int, str, list[tuple[str, str]] | None]] = []

    async def send(self, chat_id: int, text: Text, buttons: list[tuple[Text, str]] | None = None) -> int:
        rendered, labels = english((text, buttons or []))
        self.sent.append((chat_id, rendered, labels or None))
        return 4000 + len(self.sent)

    async def edit(
        self, chat_id: int, message_id: int, text: Text, buttons: list[tuple[Text, str]] | None = None
    ) -> None:
        rendered, labels = english((text, buttons or []))
        self.edits.append((chat_id, message_id, rendered, labels or None))


async def make_order() -> Order:
    customer = await Customer.create(telegram_id=600_001, full_name="Pat")
    return await Order.create(
        customer=customer, package="starter", bot_name="Pat's", bot_username="pat_agent_bot"
    )


async def test_first_report_sends_then_every_step_edits_the_same_message(db: str) -> None:
    order = await make_order()
    messenger = RecordingMessenger()
    reporter = ProgressReporter(messenger)
    for step in (PAID, LAUNCHING, CREATING_BOT, WAITING_SERVER, ACTIVATING, LIVE):
        await reporter.report(order.id, step)
    assert len(messenger.sent) == 1 and messenger.sent[0][0] == 600_001
    assert [e[1] for e in messenger.edits] == [4001] * 5
    assert "Your agent is live" in messenger.edits[-1][2]
    order = await Order.get(id=order.id)
    assert (order.progress_chat_id, order.progress_message_id) == (600_001, 4001)


async def test_concurrent_first_reports_send_one_message(db: str) -> None:
    import asyncio

    order = await make_order()
    messenger = RecordingMessenger()
    reporter = ProgressReporter(messenger)
    await asyncio.gather(reporter.report(order.id, LAUNCHING), reporter.report(order.id, CREATING_BOT))
    assert len(messenger.sent) == 1 and len(messenger.edits) == 1


async def test_open_verification_keeps_the_deep_link_on_later_steps(db: str) -> None:
    order = await make_order()
    instance = await Instance.create(order=order, customer_id=order.customer_id, bot_username="pat_agent_bot")
    await Verification.create(instance=instance, code="c0de", expires_at=utcnow() + timedelta(minutes=30))
    messenger = RecordingMessenger()
    reporter = ProgressReporter(messenger)
    await reporter.report(order.id, VERIFY)
    await reporter.report(order.id, WAITING_SERVER)  # the server is slower than the bot
    link = "https://t.me/pat_agent_bot?start=c0de"
    assert messenger.sent[0][2] == [("Open @pat_agent_bot and press Start", link)]
    assert messenger.edits[-1][3] == [("Open @pat_agent_bot and press Start", link)]
    await Verification.filter(instance=instance).update(verified_at=utcnow())
    await reporter.report(order.id, ACTIVATING)
    assert messenger.edits[-1][3] is None


async def test_failure_report_edits_in_place_with_what_happens_next(db: str) -> None:
    order = await make_order()
    messenger = RecordingMessenger()
    reporter = ProgressReporter(messenger)
    await reporter.report(order.id, PAID)
    await reporter.report(order.id, LAUNCHING, failed=True, detail="You will be refunded in full.")
    assert len(messenger.sent) == 1
    assert "What happens next:</b> You will be refunded in full." in messenger.edits[-1][2]


async def test_aiogram_messenger_sends_edits_and_resends_when_the_message_is_gone(db: str) -> None:
    order = await make_order()
    session = RecordingSession()
    messenger = AiogramMessenger(create_bot(make_settings(), session=session))
    reporter = ProgressReporter(messenger)
    await reporter.report(order.id, PAID)
    session.fail_next(
        "EditMessageText",
        TelegramBadRequest(
            method=EditMessageText(text="x", chat_id=1, message_id=1),
            message="Bad Request: message is not modified: specified new message content is the same",
        ),
    )
    await reporter.report(order.id, PAID)  # the same step twice: nothing breaks
    session.fail_next(
        "EditMessageText",
        TelegramBadRequest(
            method=EditMessageText(text="x", chat_id=1, message_id=1),
            message="Bad Request: message to edit not found",
        ),
    )
    await reporter.report(order.id, LAUNCHING)  # the customer deleted it: a new one is sent and stored
    names = [c.name for c in session.calls]
    assert names == ["SendMessage", "EditMessageText", "EditMessageText", "SendMessage"]
    last = session.calls[-1].method
    assert isinstance(last, SendMessage) and "Starting your server" in last.text
    order = await Order.get(id=order.id)
    assert order.progress_message_id != 1000  # the second message's id was stored


async def test_a_russian_customer_watches_the_progress_in_russian(db: str) -> None:
    customer = await Customer.create(telegram_id=600_002, full_name="Иван", language="ru")
    order = await Order.create(
        customer=customer, package="starter", bot_name="Иван", bot_username="ivan_x_bot"
    )
    session = RecordingSession()
    reporter = ProgressReporter(AiogramMessenger(create_bot(make_settings(), session=session)))
    await reporter.report(order.id, PAID)
    await reporter.report(order.id, LIVE)
    sent, edited = (c.method for c in session.calls)
    assert sent.text == "▰▱▱▱▱▱ Оплата получена. Готовлю всё необходимое…"
    assert edited.text.startswith("▰▰▰▰▰▰ Ваш агент работает.")
    assert edited.reply_markup.inline_keyboard[0][0].text == "Открыть @ivan_x_bot"


async def test_a_start_link_button_opens_the_meet_matt_bot_with_its_payload(db: str) -> None:
    session = RecordingSession()
    messenger = AiogramMessenger(create_bot(make_settings(), session=session))
    await messenger.send(
        42, "over quota", [("🔁 Renew or upgrade", "start:renew-7"), ("Docs", "https://example.com/")]
    )
    sent = session.calls[-1].method
    assert isinstance(sent, SendMessage)
    urls = [row[0].url for row in sent.reply_markup.inline_keyboard]
    assert urls == ["https://t.me/MeetMattTestBot?start=renew-7", "https://example.com/"]
