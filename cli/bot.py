"""`python main.py bot`: run the Meet Matt bot alone, polling by default or on the webhook.

With TELEGRAM_MODE=webhook the bot is served at PUBLIC_BASE_URL/webhooks/telegram from the same
aiohttp application as the Stripe webhook, on WEB_HOST:WEB_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from config import Settings, TelegramMode, can_start


def register(sub, groups) -> None:
    parser = sub.add_parser("bot", help="run the Meet Matt bot alone (polling, or TELEGRAM_MODE=webhook)")
    parser.set_defaults(func=cmd_bot)


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from bot.factory import BotConfigError

    if not can_start(settings, "bot"):
        return 1

    try:
        asyncio.run(run_bot(settings))
    except BotConfigError as exc:
        print(f"cannot start the bot: {exc}", file=sys.stderr)
        return 2
    return 0


async def run_bot(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set)."""
    from bot.runner import start_bot
    from services.jobs.queue import JobQueue

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    queue = JobQueue(lease_seconds=settings.job_lease_seconds)
    try:
        if settings.telegram_mode == TelegramMode.WEBHOOK:
            from webhooks.app import create_web_app, run_web_app

            app = create_web_app(settings, queue=queue)  # opens the database on startup
            runtime = await start_bot(settings, app, queue=queue)
            try:
                await run_web_app(app, settings.web_host, settings.web_port, stop, ops=settings)
            finally:
                await runtime.stop()
            return
        from services.infra.db import close_db, open_db_checked
        from services.infra.health import HealthBoard
        from webhooks.ops import start_ops_server

        key = settings.encryption_key.get_secret_value() if settings.encryption_key else None
        await open_db_checked(settings.database_url, key)
        try:
            runtime = await start_bot(settings, None, queue=queue)
            board = HealthBoard()
            board.watch_task("bot", runtime.polling)
            ops_runner, _ = await start_ops_server(settings, board)
            try:
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait({stopper, runtime.polling}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
            finally:
                if ops_runner is not None:
                    await ops_runner.cleanup()
                await runtime.stop()
        finally:
            await close_db()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
