"""`python main.py bot` as a real process against the Telegram stand-in: polling and webhook mode answer
a customer, and SIGTERM stops it cleanly without the token ever reaching its output."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from services.infra.db import migrate
from tests.bot.harness import runtime_token
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.standins import free_port
from tests.standins.telegram import TelegramTestApi, TelegramTestUser, get_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_main_py_bot_serves_customers_and_stops_on_sigterm(
    mode: str,
    tmp_path: Path,
    telegram_api: TelegramTestApi,  # noqa: F811
) -> None:
    key = Fernet.generate_key().decode()
    database_url = f"sqlite://{tmp_path / 'bot.sqlite3'}"
    await migrate(database_url, key)
    token = runtime_token()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_", "STRIPE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=token,
        TELEGRAM_API_SERVER=telegram_api.base_url,
        TELEGRAM_MODE=mode,
        DATABASE_URL=database_url,
        ENCRYPTION_KEY=key,
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        BOT_COOLDOWN_SECONDS="0",
        LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "main.py"),
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    user = TelegramTestUser(telegram_api.base_url, token, user_id=820_001, first_name="Carol")
    try:
        for _ in range(800):  # the bot is up once it registered its command menu (slow under load)
            if (
                await get_json(telegram_api.base_url, "/meetmatt/commands", token=token)
                or process.returncode is not None
            ):
                break
            await asyncio.sleep(0.05)
        assert process.returncode is None, "main.py bot exited early"
        if mode == "webhook":
            for _ in range(800):
                if await get_json(telegram_api.base_url, "/meetmatt/webhook", token=token):
                    break
                await asyncio.sleep(0.05)
        reply = await user.say(
            "/start",
            "Hi Carol",
        )
        assert "Order an agent" in str(reply.buttons)
        await user.say("/help", "How it works")
    finally:
        await user.close()
        process.send_signal(signal.SIGTERM)
        try:
            raw, _ = await asyncio.wait_for(process.communicate(), timeout=20)
        except TimeoutError:
            process.kill()
            raw, _ = await process.communicate()
    output = raw.decode(errors="replace")
    assert process.returncode == 0, output
    assert token not in output and token.split(":")[1] not in output
    assert ("polling as @MeetMattTestBot" if mode == "polling" else "webhook registered") in output
