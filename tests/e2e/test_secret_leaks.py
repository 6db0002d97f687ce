"""The leak test (issue 7): the full end-to-end run, with every log line at DEBUG and every message
any chat received, contains none of the secrets configured for it or made during it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator

import pytest

from cli.run import running
from models import Alert, Instance, Job
from services.cloud.openclaw_config import ENV_PATH
from services.infra.logging_setup import setup_logging
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.e2e.test_provisioning_e2e import drive_order_to_live
from tests.standins.stack import Stack

CUSTOMER_ID = 930_001


@pytest.fixture
def captured_logs(stack: Stack) -> AsyncIterator[io.StringIO]:
    stream = io.StringIO()
    setup_logging("DEBUG", "kv", stack.settings.secret_values(), stream=stream)
    for name in ("aiogram", "aiohttp", "meetmatt", "services", "bot", "handlers", "webhooks"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    setup_logging("INFO", "kv", stream=io.StringIO())


async def test_no_secret_in_any_log_line_or_message_of_a_full_run(
    stack: Stack, captured_logs: io.StringIO
) -> None:
    customer = stack.customer(CUSTOMER_ID, "Lee")
    admin_chat = stack.admin_chat()
    async with running(stack.settings, open_db=False, options=stack.runtime_options()) as app:
        order = await drive_order_to_live(stack, customer, app.web_port)
        logging.getLogger("meetmatt.test").info("run finished")

    instance = await Instance.get(order_id=order.id)
    secrets_to_hide = {
        **{k: v for k, v in stack.secrets_used.items()},
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "customer bot token": instance.bot_token,
        "gateway token": instance.gateway_token,
        # the agent's model key: issued at activation, registered for redaction when issued
        "instance model key": stack.ssh.files[ENV_PATH].content.strip().partition("=")[2],
        "instance host key": stack.host_key.private_openssh.splitlines()[1],
    }
    # the bot token's secret half alone must not appear either
    secrets_to_hide["customer bot token secret"] = instance.bot_token.split(":", 1)[1]
    secrets_to_hide["main bot token secret"] = stack.bot_token.split(":", 1)[1]

    logs = captured_logs.getvalue()
    assert "run finished" in logs and "job done" in logs  # the whole run was really captured
    chats = [
        stack.customer(CUSTOMER_ID, "Lee"),
        admin_chat,
        stack.on_bot(instance.bot_token, CUSTOMER_ID, "Lee"),
    ]
    messages = []
    for chat in chats:
        messages += [m.text + json.dumps(m.reply_markup or {}) for m in await chat.messages()]
        await chat.close()
    await customer.close()
    assert any("Verified" in m for m in messages) and any("Your agent is live" in m for m in messages)
    stored = [a.text for a in await Alert.all()] + [
        json.dumps([j.payload, j.state, j.last_error]) for j in await Job.all()
    ]

    # the platform's model key is in no file written to the instance (only the gateway holds it)
    platform_key = stack.secrets_used["moonshot_api_key"]
    assert not [path for path, f in stack.ssh.files.items() if platform_key in f.content]
    for name, value in secrets_to_hide.items():
        assert value and len(value) >= 8, name
        assert value not in logs, f"{name} leaked into the logs"
        for text in messages:
            assert value not in text, f"{name} leaked into a Telegram message"
        for text in stored:
            assert value not in text, f"{name} leaked into a stored alert or job"
