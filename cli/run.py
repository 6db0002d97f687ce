"""`python main.py run`: the bot, the web server and the worker in one event loop (SQLite by default),
all over ONE composition root (cli/root.py). `running()` is the same start for the sandbox and the
end-to-end tests.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cli.config_check import can_start
from config import Settings, TelegramMode

if TYPE_CHECKING:  # loaded by `running` itself: the other commands start without aiogram and aiohttp
    from aiohttp import web

    from bot.runner import BotRuntime
    from cli.root import Options, Root
    from cli.worker_wiring import Runtime
    from services.infra.health import HealthBoard


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    sub.add_parser("run", help="bot + web server + worker in one process").set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from cli.signals import run_until_signal

    if not can_start(settings, "run"):
        print(
            "To watch Meet Matt work without any account first: pip install -e '.[test]' && "
            "python main.py sandbox",
            file=sys.stderr,
        )
        return 1

    async def body(stop: asyncio.Event) -> None:
        async with running(settings):
            await stop.wait()

    return run_until_signal(body)


@dataclass
class Running:
    """Everything `python main.py run` started: for the sandbox and end-to-end tests."""

    settings: Settings
    web_port: int
    bot: BotRuntime
    runtime: Runtime
    worker_task: asyncio.Task[None]
    health: HealthBoard  # what /readyz reads
    ops_port: int | None  # the ops listener (/livez, /readyz, /metrics), None when off
    web_app: web.Application  # (its model gateway, for the sandbox and tests)
    root: Root  # every client of the process


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    worker_concurrency: int | None = None,
    open_db: bool = True,
    options: Options | None = None,
) -> AsyncIterator[Running]:
    """Start the web server, the bot and the worker in this event loop; stop them on exit, in reverse.

    The root opens the database once for all three (`open_db=False`: the caller has it open).
    """
    from bot.runner import start_bot
    from cli.root import RUN, dispatcher, open_root
    from cli.worker_wiring import wire_jobs
    from services.infra.health import HealthBoard
    from webhooks.app import create_web_app, start_web_app
    from webhooks.ops import ops_listener

    board = HealthBoard()
    async with (
        open_root(settings, replace(RUN, database=open_db), options) as root,
        AsyncExitStack() as stack,
    ):
        assert root.bot is not None  # RUN builds it
        app = create_web_app(settings, queue=root.queue, health=board)
        webhook_app = app if settings.telegram_mode == TelegramMode.WEBHOOK else None
        bot_runtime = await start_bot(settings, webhook_app, bot=root.bot, dispatcher=dispatcher(root))
        stack.push_async_callback(bot_runtime.stop)
        if bot_runtime.polling is not None:
            board.watch_task("bot", bot_runtime.polling)
        web_runner, port = await start_web_app(app, settings.web_host, settings.web_port)
        stack.push_async_callback(web_runner.cleanup)
        runtime = wire_jobs(root)
        task = await _start_worker(stack, runtime, board, worker_concurrency)
        ops_port = await stack.enter_async_context(ops_listener(settings, board))
        yield Running(settings, port, bot_runtime, runtime, task, board, ops_port, app, root)


async def _start_worker(
    stack: AsyncExitStack, runtime: Runtime, board: HealthBoard, concurrency: int | None
) -> asyncio.Task[None]:
    """The worker as a task of this loop, stopped (and awaited) when the stack closes."""
    stop = asyncio.Event()
    worker = runtime.worker(concurrency)
    task = asyncio.create_task(worker.run(stop), name="meetmatt-worker")

    async def stop_worker() -> None:
        stop.set()
        await asyncio.wait([task])
        if not task.cancelled():  # a worker cancelled from outside (tests) just ends
            task.result()

    stack.push_async_callback(stop_worker)
    board.watch_worker(worker, runtime.settings.worker_heartbeat_limit_s)
    return task
