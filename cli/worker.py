"""`python main.py worker`: the job loop and the periodic sweeps."""

from __future__ import annotations

import argparse
import asyncio

from cli.config_check import can_start
from config import Settings


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    worker = sub.add_parser("worker", help="run background jobs and periodic sweeps")
    worker.add_argument("--concurrency", type=int, default=None, help="override WORKER_CONCURRENCY")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from cli.signals import run_until_signal

    if not can_start(settings, "worker"):
        return 1

    async def body(stop: asyncio.Event) -> None:
        await run_worker(settings, stop, args.concurrency)

    return run_until_signal(body)


async def run_worker(settings: Settings, stop: asyncio.Event, concurrency: int | None = None) -> None:
    """The job loop and sweeps over the root's clients until `stop` is set."""
    from cli.root import WORKER, open_root
    from cli.worker_wiring import wire_jobs
    from services.infra.health import HealthBoard
    from webhooks.ops import ops_listener

    async with open_root(settings, WORKER) as root:
        worker = wire_jobs(root).worker(concurrency)
        board = HealthBoard()
        board.watch_worker(worker, settings.worker_heartbeat_limit_s)
        async with ops_listener(settings, board):
            await worker.run(stop)
