"""End to end over HTTP: the real aiogram stack against telegram-test-api (launcher-fixed), in polling
AND webhook mode, with the real PaymentsService against the Stripe stand-in and a real database."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from bot import texts
from bot.runner import TELEGRAM_WEBHOOK_PATH, webhook_secret
from models import AdminAction, Customer, Instance, InstanceStatus, Job, Order, OrderStatus, TelegramAccount
from services.jobs.kinds import ACCOUNT_CHECK, INSTANCE_HEALTH_CHECK
from tests.e2e.bot_fixtures import ADMIN_CHAT_ID, ADMIN_ID, LiveBot, live_bot, telegram_api  # noqa: F401
from tests.standins.telegram import TelegramTestUser, get_json


async def order_until_summary(user: TelegramTestUser, name: str = "Tom's Helper") -> None:
    await user.say("/start", "Hi ")
    await user.tap(texts.BTN_ORDER, texts.ASK_PACKAGE)
    await user.tap("Starter", "display name")
    await user.say(name, "Free suggestion")
    await user.say("tom_helper_bot", "Is everything right?")


async def test_customer_orders_up_to_a_real_checkout_url(live_bot: LiveBot) -> None:  # noqa: F811
    alice = live_bot.user(810_001, "Alice")
    try:
        await order_until_summary(alice)
        pay = await alice.tap(texts.BTN_CONFIRM.split()[1], "is ready")
        url = pay.button("Pay")["url"]
        order = await Order.get()
        assert url == order.checkout_url and url.startswith(live_bot.stripe.base_url)
        assert order.status == OrderStatus.AWAITING_PAYMENT
        assert (order.bot_name, order.bot_username, order.description) == (
            "Tom's Helper",
            "tom_helper_bot",
            "",  # not asked before paying: optional (Edit), the agent's persona comes after go-live
        )
        session = live_bot.stripe.sessions[order.stripe_session_id]
        assert session["metadata"]["order_id"] == str(order.id)
        assert session["metadata"]["userId"] == str(alice.user["id"])
        # the receipt: Stripe is asked to issue an invoice for the payment
        assert session["invoice_creation"]["enabled"] is True
        assert session["invoice_creation"]["invoice_data"]["metadata"]["order_id"] == str(order.id)
        assert session["success_url"] == f"https://t.me/MeetMattTestBot?start=paid_{order.id}"
        assert (await Customer.get(telegram_id=alice.user["id"])).full_name == "Alice"
    finally:
        await alice.close()


async def test_command_menus_and_webhook_secret_are_registered(live_bot: LiveBot) -> None:  # noqa: F811
    commands = await get_json(live_bot.api.base_url, "/meetmatt/commands", token=live_bot.token)
    scopes = {key: [c["command"] for c in value] for key, value in commands.items()}
    default = next(v for k, v in scopes.items() if '"default"' in k)
    assert "new" in default and "accounts" not in default
    admin_scope = next(v for k, v in scopes.items() if str(ADMIN_ID) in k)
    assert {"accounts", "instances", "orders", "stats", "new"} <= set(admin_scope)
    webhook = await get_json(live_bot.api.base_url, "/meetmatt/webhook", token=live_bot.token)
    if live_bot.web_port is None:
        assert webhook is None  # polling deletes any webhook
        return
    assert webhook["url"] == f"http://127.0.0.1:{live_bot.web_port}{TELEGRAM_WEBHOOK_PATH}"
    assert webhook["secret_token"] == webhook_secret(live_bot.settings)
    # a forged update without the secret is refused by aiogram's SimpleRequestHandler
    async with aiohttp.ClientSession() as session:
        forged = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 1, "type": "private"},
                "from": {"id": 1, "is_bot": False, "first_name": "M"},
                "text": "/start",
            },
        }
        async with session.post(webhook["url"], json=forged) as response:
            assert response.status == 401
        async with session.post(f"http://127.0.0.1:{live_bot.web_port}/healthz") as response:
            assert response.status in (200, 405)  # the Stripe/health app is the same server


async def test_customer_edits_then_cancels(live_bot: LiveBot) -> None:  # noqa: F811
    bob = live_bot.user(810_002, "Bob")
    try:
        await order_until_summary(bob, name="First Name")
        before = await bob.count()
        await bob.press(texts.BTN_EDIT.split()[1])
        await bob.wait_for(
            lambda ms: any("What would you like to change?" in m.text for m in ms[before - 1 :]),
            what="the edit menu",
        )
        await bob.tap("Name", "display name")
        summary = await bob.say("Second Name", "Is everything right?")
        assert "Second Name" in summary.text and "First Name" not in summary.text
        await bob.press(texts.BTN_CANCEL.split()[1], in_message=summary)
        await bob.wait_text(texts.CANCELLED.split(".")[0], since=before)
        assert await Order.all().count() == 0
        await bob.say("/cancel", texts.NOTHING_TO_CANCEL.split(".")[0])
    finally:
        await bob.close()


async def test_admin_lists_accounts_and_instances_and_presses_buttons(live_bot: LiveBot) -> None:  # noqa: F811
    account = await TelegramAccount.create(phone="+15550001234", api_id=1, api_hash="0" * 32)
    customer = await Customer.create(telegram_id=810_003, full_name="Cy")
    instance = await Instance.create(
        customer=customer, status=InstanceStatus.ACTIVE, bot_username="cy_agent_bot", ec2_instance_id="i-0abc"
    )
    admin = live_bot.user(ADMIN_ID, "Ada")
    admin_chat = live_bot.user(ADMIN_ID, "Ada", chat_id=ADMIN_CHAT_ID)
    try:
        listing = await admin.say("/accounts", "…1234")
        assert "+15550001234" not in listing.text and "active" in listing.text
        card = await admin.tap("…1234", f"Account #{account.id}")
        await admin.press(texts.ACCOUNT_BUTTONS["check"], in_message=card)
        echo = await admin_chat.wait_text("account_check")
        assert "…1234" in echo.text
        job = await Job.get(kind=ACCOUNT_CHECK)
        assert job.payload == {"account_id": account.id}
        await admin.press(texts.ACCOUNT_BUTTONS["disable"], in_message=card)
        await admin.wait_for(
            lambda ms: any("disabled" in m.text and m.edited for m in ms), what="disabled account"
        )
        assert (await TelegramAccount.get(id=account.id)).status == "disabled"

        await admin.say("/instances", "cy_agent_bot")
        await admin.press(f"#{instance.id}")
        details = await admin.wait_text("Instance #")
        assert "i-0abc" in details.text
        await admin.press(texts.INSTANCE_BUTTONS["health"], in_message=details)
        await admin_chat.wait_text(INSTANCE_HEALTH_CHECK)
        assert (await Job.get(kind=INSTANCE_HEALTH_CHECK)).payload == {"instance_id": instance.id}
        assert await AdminAction.filter(admin_telegram_id=ADMIN_ID).count() == 3
    finally:
        await admin.close()
        await admin_chat.close()


async def test_non_admin_typing_admin_commands_gets_nothing_admin(live_bot: LiveBot) -> None:  # noqa: F811
    await TelegramAccount.create(phone="+15550009876", api_id=1, api_hash="0" * 32)
    mallory = live_bot.user(810_004, "Mallory")
    try:
        for command in ("/accounts", "/instances", "/orders", "/stats", "/instances all"):
            before = await mallory.count()
            reply = await mallory.say(command, texts.UNKNOWN.split(".")[0])
            assert reply.message_id
            sent = (await mallory.messages())[before:]
            assert all(
                "9876" not in m.text and "Instances" not in m.text and "orders" not in m.text.lower()
                for m in sent
            )
        # a forged admin button press is refused too
        await mallory.press_data("ac:disable:1", 1)
        await mallory.say("/help", "How it works")
        assert await AdminAction.all().count() == 0
        assert (await TelegramAccount.get(phone="+15550009876")).status == "active"
    finally:
        await mallory.close()


HOSTILE_NAMES = [
    ("<b>bold</b><script>alert(1)</script>", "escaped"),
    ("Robert'); DROP TABLE customer;--", "escaped"),
    ("🤖🔥✨", "escaped"),
    ("abc\u202edef", "U+202E"),
    ("zero\u200bwidth", "U+200B"),
    ("x" * 10_000, "10000 characters"),
]


async def test_hostile_input_is_refused_or_shown_escaped_and_nothing_crashes(
    live_bot: LiveBot,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    eve = live_bot.user(810_005, "Eve")
    try:
        for name, expect in HOSTILE_NAMES:
            await eve.say("/new", texts.ASK_PACKAGE)
            await eve.tap("Starter", "display name")
            if expect != "escaped":
                refusal = await eve.say(name, expect)
                assert "Please try again" in refusal.text
                continue
            await eve.say(name, "Free suggestion")
            summary = await eve.say("eve_test_bot", "Is everything right?")
            escaped = texts.esc(name)
            assert f"Name: <b>{escaped}</b>" in summary.text
            assert "<script>" not in summary.text
        await eve.say("/cancel", texts.CANCELLED.split(".")[0])
        await eve.say("d" * 10_000, texts.UNKNOWN.split(".")[0])  # outside a dialogue: a pointer to /help
        await eve.say("/help", "How it works")  # still alive
        assert await Customer.filter(telegram_id=810_005).count() == 1  # and the table is still there
        failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert failures == []  # no handler failed on any of it
    finally:
        await eve.close()
