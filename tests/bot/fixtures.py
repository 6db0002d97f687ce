"""Fixtures shared by tests/bot and tests/handlers: settings, the Stripe stand-in, a harness."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.factory import create_dispatcher
from config import Settings
from handlers import get_routers
from services.jobs.queue import JobQueue
from services.payments.stripe_api import PaymentsService, close_stripe_client, make_stripe_client
from tests.bot.harness import BotHarness, FakeUser, runtime_token
from tests.standins.stripe_api import StripeStandIn

ADMIN_ID = 900_001
ADMIN_CHAT_ID = -100_777


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        bot_token=runtime_token(),
        admin_ids=str(ADMIN_ID),
        admin_telegram_chat_id=ADMIN_CHAT_ID,
        bot_cooldown_seconds=0,
        stripe_secret_key="sk_test_" + secrets.token_hex(12),
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeStandIn]:
    async with StripeStandIn() as api:
        yield api


@pytest.fixture
def settings(stripe_api: StripeStandIn) -> Settings:
    return make_settings(stripe_api_base=stripe_api.base_url)


@pytest.fixture
async def payments(settings: Settings) -> AsyncIterator[PaymentsService]:
    client = make_stripe_client(settings, timeout=5, max_network_retries=0)
    yield PaymentsService(client, settings.packages, bot_username="MeetMattTestBot")
    await close_stripe_client(client)


@pytest.fixture
def harness(db: str, settings: Settings, payments: PaymentsService) -> BotHarness:
    dp = create_dispatcher(
        settings, get_routers(settings), payments=payments, queue=JobQueue(lease_seconds=30)
    )
    return BotHarness.build(settings, dp)


@pytest.fixture
def alice() -> FakeUser:
    return FakeUser(id=500_001, first_name="Alice", username="alice")


@pytest.fixture
def admin() -> FakeUser:
    return FakeUser(id=ADMIN_ID, first_name="Ada", username="ada_admin")
