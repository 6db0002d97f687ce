"""/support round-trips a customer's question through the admin chat and an admin's reply back;
/terms shows the terms and the refund policy. Through Dispatcher.feed_update."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import SendMessage
from aiogram.types import Chat, Message, PhotoSize, Sticker, User

from bot import texts
from bot.callbacks import SupportCb
from bot.i18n import I18N
from models import AdminAction, Customer, Order, SupportMessage
from tests.bot.fixtures import ADMIN_CHAT_ID, make_settings
from tests.bot.harness import BotHarness, FakeUser, joined, last_sent


def _sent_to(calls: list, chat_id: int) -> list:
    return [c for c in calls if c.name == "SendMessage" and int(c.chat_id) == chat_id]


def _reply_to(harness: BotHarness, admin: FakeUser, message_id: int, text: str) -> object:
    replied = Message(
        message_id=message_id,
        date=datetime.now(UTC),
        chat=Chat(id=ADMIN_CHAT_ID, type="supergroup"),
        from_user=User(id=harness.bot.id, is_bot=True, first_name="Matt"),
        text="question",
    )
    return harness.message(admin, text, chat_id=ADMIN_CHAT_ID, reply_to_message=replied)


async def test_a_question_reaches_the_admin_chat_with_orders_and_the_admins_reply_reaches_the_customer(
    harness: BotHarness, alice: FakeUser, admin: FakeUser
) -> None:
    await harness.send(alice, "/start")
    customer = await Customer.get(telegram_id=alice.id)
    await Order.create(customer=customer, package="pro", bot_name="Helper", bot_username="alice_helper_bot")

    asked = await harness.send(alice, "/support")
    assert last_sent(asked).text == texts.ASK_SUPPORT
    calls = await harness.send(alice, "My agent is <b>silent</b> since noon")

    [posted] = _sent_to(calls, ADMIN_CHAT_ID)
    assert "My agent is &lt;b&gt;silent&lt;/b&gt; since noon" in posted.text
    assert "@alice_helper_bot" in posted.text and f"<code>{alice.id}</code>" in posted.text
    assert last_sent(calls).text == texts.SUPPORT_SENT
    ticket = await SupportMessage.get(customer_telegram_id=alice.id)
    assert ticket.admin_chat_id == ADMIN_CHAT_ID and ticket.answers == 0

    reply = await harness.feed(_reply_to(harness, admin, ticket.admin_message_id, "Restarted it <i>now</i>"))

    [answer] = _sent_to(reply, alice.id)
    assert answer.text == texts.SUPPORT_ANSWER.format(answer="Restarted it &lt;i&gt;now&lt;/i&gt;")
    assert texts.ADMIN_SUPPORT_DELIVERED in joined(reply)
    await ticket.refresh_from_db()
    assert ticket.answers == 1 and ticket.answered_at is not None
    assert await AdminAction.filter(action="support_answer", target=f"support:{ticket.id}").count() == 1


async def test_support_with_the_question_inline_posts_it_at_once(
    harness: BotHarness, alice: FakeUser
) -> None:
    calls = await harness.send(alice, "/support where is my receipt?")
    [posted] = _sent_to(calls, ADMIN_CHAT_ID)
    assert "where is my receipt?" in posted.text and "Orders: none" in posted.text
    assert await SupportMessage.filter(customer_telegram_id=alice.id).count() == 1


async def test_an_admin_reply_to_any_other_message_reaches_no_customer(
    harness: BotHarness, alice: FakeUser, admin: FakeUser
) -> None:
    await harness.send(alice, "/support hello")
    calls = await harness.feed(_reply_to(harness, admin, 987_654, "who gets this?"))
    assert _sent_to(calls, alice.id) == []


async def test_a_customer_replying_in_their_own_chat_cannot_reach_another_customer(
    harness: BotHarness, alice: FakeUser
) -> None:
    bob = FakeUser(id=500_002, first_name="Bob", username="bob")
    await harness.send(alice, "/support hello")
    ticket = await SupportMessage.get(customer_telegram_id=alice.id)
    replied = Message(
        message_id=ticket.admin_message_id,
        date=datetime.now(UTC),
        chat=Chat(id=bob.id, type="private"),
        from_user=User(id=harness.bot.id, is_bot=True, first_name="Matt"),
        text="x",
    )
    calls = await harness.send(bob, "pretend answer", reply_to_message=replied)
    assert _sent_to(calls, alice.id) == []


async def test_an_undeliverable_answer_is_reported_to_the_admin(
    harness: BotHarness, alice: FakeUser, admin: FakeUser
) -> None:
    await harness.send(alice, "/support hello")
    ticket = await SupportMessage.get(customer_telegram_id=alice.id)
    harness.session.fail_next(
        "SendMessage",
        TelegramForbiddenError(
            method=SendMessage(chat_id=alice.id, text="x"), message="Forbidden: bot was blocked by the user"
        ),
    )
    calls = await harness.feed(_reply_to(harness, admin, ticket.admin_message_id, "answer"))
    assert "bot was blocked by the user" in joined(calls)
    await ticket.refresh_from_db()
    assert ticket.answers == 0


async def test_an_unreachable_admin_chat_tells_the_customer_to_retry_and_records_nothing(
    harness: BotHarness, alice: FakeUser
) -> None:
    harness.session.fail_next(
        "SendMessage",
        TelegramBadRequest(
            method=SendMessage(chat_id=ADMIN_CHAT_ID, text="x"), message="Bad Request: chat not found"
        ),
    )
    calls = await harness.send(alice, "/support hello")
    assert last_sent(calls).text == texts.SUPPORT_UNAVAILABLE
    assert await SupportMessage.all().count() == 0


async def test_the_support_button_of_an_error_carries_its_reference_into_the_question(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.press(alice, SupportCb(reference="abc123def0").pack())
    calls = await harness.send(alice, "it broke")
    [posted] = _sent_to(calls, ADMIN_CHAT_ID)
    assert "<code>abc123def0</code>" in posted.text


async def test_a_command_while_asking_is_not_taken_as_the_question(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/support")
    calls = await harness.send(alice, "/mybots")
    assert _sent_to(calls, ADMIN_CHAT_ID) == []


async def test_terms_show_the_file_the_setting_names_escaped_and_the_refund_policy(
    db: str, tmp_path: Path, alice: FakeUser, payments: object
) -> None:
    from bot.factory import create_dispatcher
    from handlers import get_routers
    from services.jobs.queue import JobQueue

    terms_file = tmp_path / "terms.txt"
    terms_file.write_text("1. Be <nice>.\n2. Pay on time.")
    settings = make_settings(terms_source=str(terms_file), refund_on_failure=True)
    harness = BotHarness.build(
        settings, create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue())
    )
    text = last_sent(await harness.send(alice, "/terms")).text
    assert "1. Be &lt;nice&gt;." in text and texts.REFUND_POLICY_AUTO in text


async def test_terms_without_a_source_say_so_and_give_the_manual_refund_policy(
    harness: BotHarness, alice: FakeUser
) -> None:
    text = last_sent(await harness.send(alice, "/terms")).text
    assert texts.TERMS_NOT_PUBLISHED in text and texts.REFUND_POLICY_MANUAL in text


def test_terms_at_a_url_link_to_it_and_long_files_are_cut_before_escaping() -> None:
    assert "https://example.com/terms" in texts.terms(None, "https://example.com/terms", False)
    long = texts.terms("<" * 5000, None, False)
    assert long.count("&lt;") == texts.TERMS_MAX_CHARS


async def test_a_question_sent_as_a_captioned_photo_reaches_the_admin_chat(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/support")
    photo = [PhotoSize(file_id="p1", file_unique_id="u1", width=90, height=90)]
    calls = await harness.send(alice, None, photo=photo, caption="The bot shows this error")
    [posted] = _sent_to(calls, ADMIN_CHAT_ID)
    assert "The bot shows this error" in posted.text
    assert last_sent(calls).text == texts.SUPPORT_SENT


async def test_a_sticker_while_asking_gets_the_need_text_reply_and_posts_nothing(
    harness: BotHarness, alice: FakeUser
) -> None:
    await harness.send(alice, "/support")
    sticker = Sticker(
        file_id="s1",
        file_unique_id="su1",
        type="regular",
        width=512,
        height=512,
        is_animated=False,
        is_video=False,
    )
    calls = await harness.send(alice, None, sticker=sticker)
    assert _sent_to(calls, ADMIN_CHAT_ID) == []
    assert last_sent(calls).text == texts.NEED_TEXT


async def test_the_admins_answer_reaches_a_russian_customer_under_the_russian_header(
    harness: BotHarness, admin: FakeUser
) -> None:
    ivan = FakeUser(id=500_778, first_name="Иван", username="ivan", language_code="ru")
    await harness.send(ivan, "/support Бот молчит")
    ticket = await SupportMessage.get(customer_telegram_id=ivan.id)

    reply = await harness.feed(_reply_to(harness, admin, ticket.admin_message_id, "Restarted it"))

    [answer] = _sent_to(reply, ivan.id)
    with I18N.use_locale("ru"):
        russian = texts.SUPPORT_ANSWER.format(answer="Restarted it")
    assert russian != texts.SUPPORT_ANSWER.format(answer="Restarted it")  # the catalogue translates it
    assert answer.text == russian
    assert texts.ADMIN_SUPPORT_DELIVERED in joined(reply)  # the admin is still told in English
