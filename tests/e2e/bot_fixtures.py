"""Fixtures for the bot's end-to-end tests: the Telegram stand-in process, the Stripe stand-in, and the
Meet Matt bot started by `bot.runner.start_bot` in polling or webhook mode against them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import pytest

from bot.runner import BotRuntime, start_bot
from cli.root import BOT, dispatcher, open_root
from config import Settings
from tests.bot.harness import runtime_token
from tests.standins import free_port
from tests.standins.stripe_api import StripeStandIn
from tests.standins.telegram import StandInUnavailable, TelegramTestApi, TelegramTestUser

ADMIN_ID = 700_001
ADMIN_CHAT_ID = -100_555


_shared_api: TelegramTestApi | None = None


@pytest.fixture(scope="session")
def telegram_api() -> Iterator[TelegramTestApi]:
    """One telegram-test-api process for the whole run (modules that import this fixture share it)."""
    global _shared_api
    if _shared_api is None or _shared_api.process.poll() is not None:
        try:
            _shared_api = TelegramTestApi.start()
        except StandInUnavailable as exc:
            pytest.fail(str(exc))
    yield _shared_api
    _shared_api.stop()  # session teardown; stop() is a no-op once the process is gone


@dataclass
class LiveBot:
    settings: Settings
    runtime: BotRuntime
    api: TelegramTestApi
    stripe: StripeStandIn
    token: str
    web_port: int | None

    def user(self, user_id: int, first_name: str = "Alice", chat_id: int | None = None) -> TelegramTestUser:
        return TelegramTestUser(
            self.api.base_url,
            self.token,
            user_id=user_id,
            first_name=first_name,
            username=first_name.lower(),
            chat_id=chat_id,
        )


@pytest.fixture(params=["polling", "webhook"])
async def live_bot(
    request: pytest.FixtureRequest, db: str, telegram_api: TelegramTestApi
) -> AsyncIterator[LiveBot]:
    from webhooks.app import create_web_app, start_web_app

    mode = request.param
    token = runtime_token()
    async with StripeStandIn() as stripe_api:
        port = free_port() if mode == "webhook" else None
        settings = Settings(
            _env_file=None,
            bot_token=token,
            telegram_api_server=telegram_api.base_url,
            telegram_mode=mode,
            public_base_url=f"http://127.0.0.1:{port}" if port else None,
            admin_ids=str(ADMIN_ID),
            admin_telegram_chat_id=ADMIN_CHAT_ID,
            bot_cooldown_seconds=0,
            stripe_secret_key="sk_test_" + secrets.token_hex(12),
            stripe_api_base=stripe_api.base_url,
            stripe_webhook_secret="whsec_" + secrets.token_hex(16),
        )
        async with open_root(settings, replace(BOT, database=False)) as root:  # `db` has the ORM open
            assert root.bot is not None
            app = create_web_app(settings, queue=root.queue) if mode == "webhook" else None
            runtime = await start_bot(settings, app, bot=root.bot, dispatcher=dispatcher(root))
            runner = None
            try:
                if app is not None:
                    runner, _ = await start_web_app(app, "127.0.0.1", port)
                yield LiveBot(settings, runtime, telegram_api, stripe_api, token, port)
            finally:
                if runner is not None:
                    await runner.cleanup()
                await runtime.stop()
