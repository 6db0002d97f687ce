"""Bot and Dispatcher factories: API server override, FSM storage (memory / Redis), command menus,
the webhook secret, and `python main.py bot` refusing to start without a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import SetMyCommands
from aiogram.types import BotCommandScopeChat, BotCommandScopeDefault

from bot.callbacks import PackageCb
from bot.factory import BotConfigError, create_bot, create_dispatcher, make_storage, set_commands
from bot.runner import webhook_secret, webhook_url
from bot.states import OrderForm
from handlers import get_routers
from services.jobs.queue import JobQueue
from tests.bot.fixtures import ADMIN_CHAT_ID, ADMIN_ID, make_settings
from tests.bot.harness import BotHarness, FakeUser, RecordingSession

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("MEETMATT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_bot_uses_html_and_the_configured_api_server() -> None:
    bot = create_bot(make_settings(telegram_api_server="http://127.0.0.1:9999/"))
    assert bot.default.parse_mode == ParseMode.HTML and bot.default.link_preview_is_disabled is True
    assert bot.session.api.api_url(bot.token, "getMe") == f"http://127.0.0.1:9999/bot{bot.token}/getMe"


def test_bot_without_a_token_is_a_clear_error() -> None:
    with pytest.raises(BotConfigError, match="BOT_TOKEN is not set"):
        create_bot(make_settings(bot_token=None))


def test_storage_is_memory_by_default_and_redis_with_redis_url() -> None:
    storage, _ = make_storage(make_settings())
    assert isinstance(storage, MemoryStorage)
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    storage, isolation = make_storage(make_settings(redis_url=REDIS_URL))
    assert isinstance(storage, RedisStorage) and isinstance(isolation, RedisEventIsolation)


async def test_dialogue_state_lives_in_redis_and_survives_a_new_dispatcher(
    db: str, payments, alice: FakeUser
) -> None:
    settings = make_settings(redis_url=REDIS_URL, stripe_api_base="http://127.0.0.1:1")
    first = BotHarness.build(
        settings, create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue())
    )
    await first.send(alice, "/new")
    await first.press(alice, PackageCb(code="pro").pack())
    storage = first.dp.storage
    key = StorageKey(bot_id=first.bot.id, chat_id=alice.id, user_id=alice.id)
    try:
        assert await storage.get_state(key) == OrderForm.name.state
        # a second replica (new Dispatcher, new storage object) continues the same dialogue
        second = BotHarness.build(
            settings, create_dispatcher(settings, get_routers(settings), payments=payments, queue=JobQueue())
        )
        calls = await second.send(alice, "Tom Helper")
        assert any("Free suggestion" in (c.text or "") for c in calls)
        assert (await second.dp.storage.get_data(key))["package"] == "pro"
    finally:
        await storage.set_state(key, None)
        await storage.set_data(key, {})
        await storage.close()


async def test_command_menus_default_for_everyone_and_admin_scoped_in_each_language() -> None:
    session = RecordingSession()
    await set_commands(create_bot(make_settings(), session=session), make_settings())
    calls = [c.method for c in session.calls if isinstance(c.method, SetMyCommands)]
    by_scope = {
        (type(m.scope).__name__, getattr(m.scope, "chat_id", None), m.language_code): m.commands
        for m in calls
    }
    customer = ["start", "new", "mybots", "renew", "help", "cancel", "support", "terms", "language"]
    for language in (None, "ru"):
        default = [c.command for c in by_scope[(BotCommandScopeDefault.__name__, None, language)]]
        assert default == customer
        for chat_id in (ADMIN_ID, ADMIN_CHAT_ID):
            admin = [c.command for c in by_scope[(BotCommandScopeChat.__name__, chat_id, language)]]
            assert admin[:9] == default and admin[9:] == ["accounts", "instances", "orders", "stats"]
    english = by_scope[(BotCommandScopeDefault.__name__, None, None)][0].description
    russian = by_scope[(BotCommandScopeDefault.__name__, None, "ru")][0].description
    assert (english, russian) == ("Welcome and packages", "Приветствие и тарифы")


def test_webhook_secret_is_the_setting_or_derived_from_the_token() -> None:
    explicit = make_settings(telegram_webhook_secret="my-Secret_1")
    assert webhook_secret(explicit) == "my-Secret_1"
    derived = make_settings()
    secret = webhook_secret(derived)
    assert len(secret) == 64 and secret == webhook_secret(derived)
    assert derived.bot_token.get_secret_value() not in secret
    assert secret != webhook_secret(make_settings())  # another token, another secret
    assert webhook_url(make_settings(public_base_url="https://matt.example/")) == (
        "https://matt.example/webhooks/telegram"
    )
    with pytest.raises(BotConfigError, match="PUBLIC_BASE_URL"):
        webhook_url(make_settings())


def test_main_py_bot_without_a_token_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(BOT_TOKEN="", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1  # a failure, not a usage error
    assert "bot: BOT_TOKEN" in result.stderr and "`python main.py bot` cannot start" in result.stderr
    assert "Traceback" not in result.stderr


async def test_start_bot_in_webhook_mode_needs_the_app_and_registers_on_startup() -> None:
    from aiogram.methods import SetWebhook
    from aiohttp import web

    from bot.runner import TELEGRAM_WEBHOOK_PATH, start_bot

    settings = make_settings(telegram_mode="webhook", public_base_url="https://matt.example")
    session = RecordingSession()
    dispatcher = create_dispatcher(settings, get_routers(settings), payments=None, queue=JobQueue())
    with pytest.raises(BotConfigError, match="needs the web application"):
        await start_bot(settings, None, bot=create_bot(settings, session=session), dispatcher=dispatcher)
    app = web.Application()
    runtime = await start_bot(settings, app, bot=create_bot(settings, session=session), dispatcher=dispatcher)
    try:
        assert runtime.polling is None
        assert any(r.resource.canonical == TELEGRAM_WEBHOOK_PATH for r in app.router.routes())
        await runtime.dispatcher.emit_startup(bot=runtime.bot)
        hook = [c.method for c in session.calls if isinstance(c.method, SetWebhook)][-1]
        assert hook.url == "https://matt.example/webhooks/telegram"
        assert hook.secret_token == webhook_secret(settings)
        assert "managed_bot" in hook.allowed_updates and "callback_query" in hook.allowed_updates
    finally:
        await runtime.stop()
