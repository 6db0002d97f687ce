"""ONE order through every stand-in at once (issue 7): the customer chats with the bot through
telegram-test-api, a signed Stripe event pays, the scripted BotFather creates the bot, moto launches
the server, the local SSH server plays the instance with the REAL OpenClaw gateway behind it, the
customer opens the deep link on the new bot, and the agent goes live answering only them. Runs on
SQLite and PostgreSQL. (What the live agent then says and to whom: test_real_openclaw_e2e.py.)"""

from __future__ import annotations

import json5

from bot import texts
from models import (
    Alert,
    AlertSeverity,
    Instance,
    InstanceStatus,
    Job,
    JobStatus,
    ModelKey,
    Order,
    OrderStatus,
)
from services.openclaw_config import CONFIG_PATH
from services.worker_cli import running
from tests.standins.stack import Stack, wait_until
from tests.standins.telegram import TelegramTestUser

CUSTOMER_ID = 920_001


async def order_and_get_pay_url(customer: TelegramTestUser) -> str:
    await customer.say("/start", "Hi ")
    await customer.tap(texts.BTN_ORDER, texts.ASK_PACKAGE)
    await customer.tap("Starter", "display name")
    await customer.say("Ann's Agent", "Free suggestion")
    await customer.say("ann_agent_bot", "short description")
    await customer.say("Keeps my diary", "Send a photo")
    await customer.tap(texts.BTN_SKIP, "Is everything right?")
    pay = await customer.tap(texts.BTN_CONFIRM.split()[1], "is ready")
    return pay.button("Pay")["url"]


async def drive_order_to_live(stack: Stack, customer: TelegramTestUser, web_port: int) -> Order:
    """The customer orders in chat, Stripe pays, the customer opens the deep link on the new bot."""
    pay_url = await order_and_get_pay_url(customer)
    order = await Order.get()
    assert pay_url == order.checkout_url and pay_url.startswith(stack.stripe.base_url)
    assert await stack.pay(order, web_port) == 200
    progress = await customer.wait_for(
        lambda ms: next((m for m in ms if any("?start=" in b.get("url", "") for b in m.buttons)), None),
        timeout=30, what="the verification deep link")
    link = progress.buttons[0]["url"]
    bot_username, code = link.removeprefix("https://t.me/").split("?start=")
    instance = await Instance.get(order_id=order.id)
    assert instance.bot_username == bot_username
    new_bot = stack.on_bot(instance.bot_token, customer.user["id"], customer.user["first_name"])
    try:
        await new_bot.send(f"/start {code}")
        await new_bot.wait_text("Verified", timeout=30)

        async def live() -> bool:
            return (await Order.get(id=order.id)).status == OrderStatus.ACTIVE
        await wait_until(live, 60, "the order to be active")
        await customer.wait_text("Your agent is live", timeout=10)
    finally:
        await new_bot.close()
    return order


async def test_one_order_from_chat_to_live_agent(make_stack, openclaw) -> None:
    async with make_stack(real_openclaw=True) as stack:
        await stack.add_creator_accounts()
        await _one_order_from_chat_to_live_agent(stack)


async def _one_order_from_chat_to_live_agent(stack: Stack) -> None:
    customer = stack.customer(CUSTOMER_ID, "Ann")
    admin_chat = stack.admin_chat()
    async with running(stack.settings, open_db=False, **stack.runtime_options()) as app:
        order = await drive_order_to_live(stack, customer, app.web_port)
        # the real gateway runs the written config and answers /readyz
        assert stack.ssh.real is not None and stack.ssh.real.gateway.running
        assert (stack.ssh.real.gateway.home / ".openclaw" / "openclaw.json").read_text() == \
            stack.ssh.files[CONFIG_PATH].content

    order = await Order.get(id=order.id)
    instance = await Instance.get(order_id=order.id)
    assert order.status == OrderStatus.ACTIVE and order.paid_at is not None
    assert instance.status == InstanceStatus.ACTIVE and instance.owner_telegram_id == CUSTOMER_ID
    assert instance.expires_at is not None
    job = await Job.get(kind="provision")
    assert job.status == JobStatus.DONE and job.attempts == 1
    # the agent got its own model key at activation (one live key, stored hashed)
    assert await ModelKey.filter(instance_id=instance.id, revoked_at=None).count() == 1

    # the instance's written OpenClaw config allows exactly the verified user
    config = json5.loads(stack.ssh.files[CONFIG_PATH].content)
    telegram_channel = config["channels"]["telegram"]
    assert telegram_channel["allowFrom"] in ([CUSTOMER_ID], [str(CUSTOMER_ID)])
    assert telegram_channel["dmPolicy"] == "allowlist"
    assert telegram_channel["botToken"] == instance.bot_token
    assert stack.ssh.commands_matching("readyz")

    # exactly one server (moto) and one bot (BotFather) were made, for this order
    servers = await stack.live_instances()
    assert len(servers) == 1 and servers[0]["InstanceId"] == instance.ec2_instance_id
    tags = {t["Key"]: t["Value"] for t in servers[0]["Tags"]}
    assert tags["meetmatt:order"] == str(order.id)
    assert [u for _, u in stack.botfather.created] == [instance.bot_username]

    # ONE progress message, edited through every step
    messages = await customer.messages()
    progress_messages = [m for m in messages if "▰" in m.text]
    assert len(progress_messages) == 1
    assert progress_messages[0].message_id == order.progress_message_id
    assert progress_messages[0].edited >= 4
    assert "Your agent is live" in progress_messages[0].text

    # the admin chat was told nothing bad
    bad = await Alert.filter(severity__in=[AlertSeverity.WARNING, AlertSeverity.CRITICAL]).all()
    assert bad == [], [a.text for a in bad]
    admin_texts = [m.text for m in await admin_chat.messages()]
    assert not any("fail" in t.lower() or "problem" in t.lower() for t in admin_texts), admin_texts
    await admin_chat.close()
    await customer.close()
