"""`python main.py worker`, `run`, `sandbox`, and `orders refund|approve`.

`worker` runs the job loop and sweeps; `run` starts the bot, the web server and the worker in one
event loop (SQLite by default); `sandbox` walks one order through every local stand-in.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from config import Settings, can_start, secret_value


def register(sub, groups) -> None:
    worker = sub.add_parser("worker", help="run background jobs and periodic sweeps")
    worker.add_argument("--concurrency", type=int, default=None, help="override WORKER_CONCURRENCY")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("run", help="bot + web server + worker in one process").set_defaults(func=cmd_run)
    sandbox = sub.add_parser(
        "sandbox", help="walk one order end to end through local stand-ins (needs the test extra)"
    )
    sandbox.set_defaults(func=cmd_sandbox)
    refund = groups["orders"].add_parser("refund", help="queue a full refund of an order")
    refund.add_argument("order_id", type=int)
    refund.add_argument("--reason", default="refunded by an operator")
    refund.set_defaults(func=cmd_refund)
    approve = groups["orders"].add_parser("approve", help="accept a payment held for review and provision")
    approve.add_argument("order_id", type=int)
    approve.set_defaults(func=cmd_approve)


async def _until_signal(body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await body(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if not can_start(settings, "worker"):
        return 1

    async def body(stop: asyncio.Event) -> None:
        from bot.factory import create_bot
        from bot.messenger import AiogramMessenger
        from cli.runtime import open_runtime
        from services.infra.db import open_database
        from services.infra.health import HealthBoard
        from webhooks.ops import start_ops_server

        async with open_database(settings):
            bot = create_bot(settings)
            try:
                async with open_runtime(settings, AiogramMessenger(bot)) as runtime:
                    worker = runtime.worker(args.concurrency)
                    board = HealthBoard()
                    board.watch_worker(worker, settings.worker_heartbeat_limit_s)
                    ops_runner, _ = await start_ops_server(settings, board)
                    try:
                        await worker.run(stop)
                    finally:
                        if ops_runner is not None:
                            await ops_runner.cleanup()
            finally:
                await bot.session.close()

    asyncio.run(_until_signal(body))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
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

    asyncio.run(_until_signal(body))
    return 0


@dataclass
class Running:
    """Everything `python main.py run` started: for the sandbox and end-to-end tests."""

    settings: Settings
    web_port: int
    bot: Any  # bot.runner.BotRuntime
    runtime: Any  # cli.runtime.Runtime
    worker_task: asyncio.Task
    health: Any = None  # services.infra.health.HealthBoard: what /readyz reads
    ops_port: int | None = None  # the ops listener (/livez, /readyz, /metrics), None when off
    web_app: Any = None  # the aiohttp application (its model gateway, for the sandbox and tests)


@asynccontextmanager
async def running(
    settings: Settings, *, worker_concurrency: int | None = None, open_db: bool = True, **runtime_options: Any
) -> AsyncIterator[Running]:
    """Start the web server, the bot and the worker in this event loop; stop them on exit.

    The database is opened once here and shared by all three (`open_db=False`: the caller has it open).
    """
    from bot.messenger import AiogramMessenger
    from bot.runner import start_bot
    from cli.runtime import open_runtime, worker_id
    from services.infra.db import close_db, open_db_checked
    from services.infra.health import HealthBoard
    from services.jobs.queue import JobQueue
    from webhooks.app import create_web_app, start_web_app
    from webhooks.ops import start_ops_server

    if open_db:
        await open_db_checked(settings.database_url, secret_value(settings.encryption_key))
    stop = asyncio.Event()
    board = HealthBoard()
    try:
        queue = JobQueue(f"web-{worker_id()}", settings.job_lease_seconds)
        app = create_web_app(settings, queue=queue, manage_db=False, health=board)
        bot_runtime = await start_bot(
            settings, app if settings.telegram_mode == "webhook" else None, queue=queue
        )
        if bot_runtime.polling is not None:
            board.watch_task("bot", bot_runtime.polling)
        try:
            web_runner, port = await start_web_app(app, settings.web_host, settings.web_port)
            try:

                async def avatar(file_id: str) -> bytes | None:
                    data = await bot_runtime.bot.download(file_id)
                    return data.getvalue() if data is not None else None

                async with open_runtime(
                    settings, AiogramMessenger(bot_runtime.bot), avatar_loader=avatar, **runtime_options
                ) as runtime:
                    worker = runtime.worker(worker_concurrency)
                    task = asyncio.create_task(worker.run(stop), name="meetmatt-worker")
                    board.watch_worker(worker, settings.worker_heartbeat_limit_s)
                    ops_runner, ops_port = await start_ops_server(settings, board)
                    try:
                        yield Running(
                            settings, port, bot_runtime, runtime, task, board, ops_port, web_app=app
                        )
                    finally:
                        stop.set()
                        if ops_runner is not None:
                            await ops_runner.cleanup()
                        await asyncio.wait([task])
                        if not task.cancelled():  # a worker cancelled from outside (tests) just ends
                            task.result()
            finally:
                await web_runner.cleanup()
        finally:
            await bot_runtime.stop()
    finally:
        if open_db:
            await close_db()


def cmd_refund(args: argparse.Namespace, settings: Settings) -> int:
    from services.infra.db import open_database
    from services.jobs.queue import JobQueue
    from services.operations import orders as operations
    from services.operations.audit import Actor, OperationError

    async def body() -> int:
        async with open_database(settings):
            try:
                done = await operations.refund(JobQueue(), args.order_id, Actor.cli(), reason=args.reason)
            except OperationError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(
                f"refund of order {args.order_id} queued as job {done.job.id}; the worker sends it to Stripe"
            )
            return 0

    return asyncio.run(body())


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from services.infra.db import open_database
    from services.jobs.queue import JobQueue
    from services.operations import orders as operations
    from services.operations.audit import Actor, OperationError

    async def body() -> int:
        async with open_database(settings):
            try:
                await operations.approve(
                    JobQueue(), args.order_id, Actor.cli(), max_attempts=settings.provision_max_attempts
                )
            except OperationError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(f"order {args.order_id} approved: paid, its provisioning is queued")
            return 0

    return asyncio.run(body())


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    try:
        import moto  # noqa: F401
    except ImportError:
        print("`python main.py sandbox` needs the test extra: pip install -e '.[test]'")
        return 2
    from tests.standins.sandbox import run_sandbox

    return asyncio.run(run_sandbox())
