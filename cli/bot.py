"""`python main.py bot`: run the Meet Matt bot alone, polling by default or on the webhook.

With TELEGRAM_MODE=webhook the bot is served at PUBLIC_BASE_URL/webhooks/telegram from the same
aiohttp application as the Stripe webhook, on WEB_HOST:WEB_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from cli.config_check import can_start
from config import Settings, TelegramMode

if TYPE_CHECKING:
    from bot.runner import BotRuntime


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    parser = sub.add_parser("bot", help="run the Meet Matt bot alone (polling, or TELEGRAM_MODE=webhook)")
    parser.set_defaults(func=cmd_bot)


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from cli.signals import run_until_signal

    if not can_start(settings, "bot"):
        return 1

    async def body(stop: asyncio.Event) -> None:
        await run_bot(settings, stop)

    return run_until_signal(body)


async def run_bot(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set (or polling ends)."""
    from bot.runner import start_bot
    from cli.root import BOT, dispatcher, open_root

    async with open_root(settings, BOT) as root:
        assert root.bot is not None  # BOT builds it
        if settings.telegram_mode == TelegramMode.WEBHOOK:
            from webhooks.app import create_web_app, run_web_app

            app = create_web_app(settings, queue=root.queue)
            runtime = await start_bot(settings, app, bot=root.bot, dispatcher=dispatcher(root))
            try:
                await run_web_app(app, settings.web_host, settings.web_port, stop, ops=settings)
            finally:
                await runtime.stop()
            return
        runtime = await start_bot(settings, None, bot=root.bot, dispatcher=dispatcher(root))
        await _poll(settings, runtime, stop)


async def _poll(settings: Settings, runtime: BotRuntime, stop: asyncio.Event) -> None:
    from services.infra.health import HealthBoard
    from webhooks.ops import ops_listener

    assert runtime.polling is not None  # polling mode
    try:
        board = HealthBoard()
        board.watch_task("bot", runtime.polling)
        async with ops_listener(settings, board):
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({stopper, runtime.polling}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
    finally:
        await runtime.stop()
