"""`python main.py worker` (the job loop and the periodic sweeps) and `orders refund|approve`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cli.config_check import can_start
from config import Settings


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    worker = sub.add_parser("worker", help="run background jobs and periodic sweeps")
    worker.add_argument("--concurrency", type=int, default=None, help="override WORKER_CONCURRENCY")
    worker.set_defaults(func=cmd_worker)
    refund = groups["orders"].add_parser("refund", help="queue a full refund of an order")
    refund.add_argument("order_id", type=int)
    refund.add_argument("--reason", default="refunded by an operator")
    refund.set_defaults(func=cmd_refund)
    approve = groups["orders"].add_parser("approve", help="accept a payment held for review and provision")
    approve.add_argument("order_id", type=int)
    approve.set_defaults(func=cmd_approve)


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
    from webhooks.ops import start_ops_server

    async with open_root(settings, WORKER) as root:
        worker = wire_jobs(root).worker(concurrency)
        board = HealthBoard()
        board.watch_worker(worker, settings.worker_heartbeat_limit_s)
        ops_runner, _ = await start_ops_server(settings, board)
        try:
            await worker.run(stop)
        finally:
            if ops_runner is not None:
                await ops_runner.cleanup()


def cmd_refund(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import open_root
    from services.operations import orders as operations
    from services.operations.audit import Actor, OperationError

    async def body() -> int:
        async with open_root(settings) as root:
            try:
                done = await operations.refund(root.queue, args.order_id, Actor.cli(), reason=args.reason)
            except OperationError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(
                f"refund of order {args.order_id} queued as job {done.job.id}; the worker sends it to Stripe"
            )
            return 0

    return asyncio.run(body())


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import open_root
    from services.operations import orders as operations
    from services.operations.audit import Actor, OperationError

    async def body() -> int:
        async with open_root(settings) as root:
            try:
                await operations.approve(
                    root.queue, args.order_id, Actor.cli(), max_attempts=settings.provision_max_attempts
                )
            except OperationError as exc:
                print(exc, file=sys.stderr)
                return 1
            print(f"order {args.order_id} approved: paid, its provisioning is queued")
            return 0

    return asyncio.run(body())
