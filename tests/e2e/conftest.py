"""Fixtures shared by the end-to-end tests: the session-wide moto server and Telegram stand-in,
and the whole stand-in stack per test (moto emptied first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_ENCRYPTION_KEY
from tests.e2e.bot_fixtures import telegram_api  # noqa: F401
from tests.standins.moto_ec2 import moto_server  # noqa: F401
from tests.standins.stack import Stack, moto_reset, standin_stack
from tests.standins.telegram import TelegramTestApi

StackFactory = Callable[..., Any]


@pytest.fixture
def make_stack(
    db: str,
    tmp_path: Path,
    moto_server: str,  # noqa: F811
    telegram_api: TelegramTestApi,
) -> StackFactory:  # noqa: F811
    """`async with make_stack(**setting_overrides) as stack`: every stand-in, moto emptied first."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[Stack]:
        moto_reset(moto_server)
        async with standin_stack(
            db, TEST_ENCRYPTION_KEY, tmp_path, moto_url=moto_server, telegram=telegram_api, **overrides
        ) as stack:
            yield stack

    return factory


@pytest.fixture
async def stack(make_stack: StackFactory) -> AsyncIterator[Stack]:
    """The stand-in stack with the default settings and two creator accounts."""
    async with make_stack() as s:
        await s.add_creator_accounts()
        yield s
