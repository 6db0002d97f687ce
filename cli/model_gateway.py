"""`python main.py instances usage|model-quota`: model use per instance, and quota overrides."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from config import Settings

if TYPE_CHECKING:
    from cli.root import Root


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    instances = groups["instances"]
    usage = instances.add_parser(
        "usage",
        help="model tokens, requests and estimated cost per instance "
        "for a month (default: this month), against the quota",
    )
    usage.add_argument("--json", action="store_true", help="machine-readable output")
    usage.add_argument("--month", default=None, help="YYYY-MM (default: the current month, UTC)")
    usage.set_defaults(func=cmd_usage)
    quota = instances.add_parser(
        "model-quota", help="override an instance's model quota (without options: back to its package's)"
    )
    quota.add_argument("instance_id", type=int)
    quota.add_argument("--tokens-per-month", type=int, default=None, help="0: no limit")
    quota.add_argument("--requests-per-minute", type=int, default=None, help="0: no limit")
    quota.set_defaults(func=cmd_model_quota)


def cmd_usage(args: argparse.Namespace, settings: Settings) -> int:
    from cli import views
    from cli.root import run_command
    from services.jobs.queue import utcnow
    from services.model_gateway.usage import Prices, month_start
    from services.model_gateway.usage_report import parse_month, usage_rows

    try:
        month = parse_month(args.month) if args.month else month_start(utcnow())
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    async def body(_: Root) -> int:
        rows = await usage_rows(month, settings.packages, Prices.from_settings(settings))
        print(views.render(rows, args.json) if rows or args.json else f"(no model use in {month:%Y-%m})")
        return 0

    return run_command(settings, body)


def cmd_model_quota(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command
    from models import Instance
    from services.model_gateway.quota import quota_for, set_override
    from services.operations.audit import Actor, record

    for value in (args.tokens_per_month, args.requests_per_minute):
        if value is not None and value < 0:
            print("quotas are whole numbers of 0 or more (0: no limit)", file=sys.stderr)
            return 2

    async def body(_: Root) -> int:
        instance = await Instance.get_or_none(id=args.instance_id)
        if instance is None:
            print(f"no instance #{args.instance_id}", file=sys.stderr)
            return 1
        await set_override(
            instance.id,
            tokens_per_month=args.tokens_per_month,
            requests_per_minute=args.requests_per_minute,
        )
        quota = await quota_for(instance.id, instance.order_id, settings.packages)
        await record(
            Actor.cli(),
            "model_quota",
            f"instance:{instance.id}",
            f"CLI; tokens/month {quota.tokens_per_month}, requests/min {quota.requests_per_minute}",
        )
        print(
            f"instance #{instance.id}: {quota.tokens_per_month or 'unlimited'} tokens a month, "
            f"{quota.requests_per_minute or 'unlimited'} requests a minute "
            "(web replicas pick it up within 30 s)"
        )
        return 0

    return run_command(settings, body)
