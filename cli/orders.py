"""`python main.py orders refund|approve`: the operator's two actions on an order (services/operations,
the same functions as the bot's /refund and /approve; a refused one is an OperationError, which main.py
reports). `orders list` is cli/views.py's."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from config import Settings

if TYPE_CHECKING:
    from cli.root import Root


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    refund = groups["orders"].add_parser("refund", help="queue a full refund of an order")
    refund.add_argument("order_id", type=int)
    refund.add_argument("--reason", default="refunded by an operator")
    refund.set_defaults(func=cmd_refund)
    approve = groups["orders"].add_parser("approve", help="accept a payment held for review and provision")
    approve.add_argument("order_id", type=int)
    approve.set_defaults(func=cmd_approve)


def cmd_refund(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command
    from services.operations import orders as operations
    from services.operations.audit import Actor

    async def body(root: Root) -> int:
        done = await operations.refund(root.queue, args.order_id, Actor.cli(), reason=args.reason)
        print(f"refund of order {args.order_id} queued as job {done.job.id}; the worker sends it to Stripe")
        return 0

    return run_command(settings, body)


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command
    from services.operations import orders as operations
    from services.operations.audit import Actor

    async def body(root: Root) -> int:
        await operations.approve(
            root.queue, args.order_id, Actor.cli(), max_attempts=settings.provision_max_attempts
        )
        print(f"order {args.order_id} approved: paid, its provisioning is queued")
        return 0

    return run_command(settings, body)
