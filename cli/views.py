"""`python main.py orders|instances|accounts|jobs list`: read-only operator views, rows as plain dicts
(never a secret), and a text table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from config import Settings
from models import Instance, Job, Order, TelegramAccount
from models.enums import AccountStatus, InstanceStatus, JobStatus, OrderStatus

if TYPE_CHECKING:
    from cli.root import Root

# `--status` takes the models' own values: a typo is a usage error, not an empty list
STATUSES = {"orders": OrderStatus, "instances": InstanceStatus, "accounts": AccountStatus, "jobs": JobStatus}


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    for what, statuses in STATUSES.items():
        lister = groups[what].add_parser("list", help=f"list {what} (read-only)")
        lister.add_argument("--json", action="store_true", help="machine-readable output")
        lister.add_argument("--limit", type=int, default=50)
        lister.add_argument(
            "--status",
            default=None,
            choices=[s.value for s in statuses],
            help="only rows with this status",
        )
        lister.set_defaults(func=cmd_list, what=what)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from cli.root import run_command

    async def body(_: Root) -> int:
        print(render(await ROWS[args.what](args.limit, args.status), args.json))
        return 0

    return run_command(settings, body)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def order_rows(limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    query = Order.all().select_related("customer").order_by("-id").limit(limit)
    if status:
        query = query.filter(status=status)
    return [
        {
            "id": o.id,
            "status": str(o.status),
            "customer": o.customer.telegram_id,
            "package": o.package,
            "bot_name": o.bot_name,
            "bot_username": o.bot_username,
            "amount": o.amount,
            "currency": o.currency,
            "paid_at": _iso(o.paid_at),
            "created_at": _iso(o.created_at),
        }
        for o in await query
    ]


async def instance_rows(limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    query = Instance.all().order_by("-id").limit(limit)
    if status:
        query = query.filter(status=status)
    return [
        {
            "id": i.id,
            "status": str(i.status),
            "order": i.order_id,
            "ec2_instance_id": i.ec2_instance_id,
            "public_ip": i.public_ip,
            "bot_username": i.bot_username,
            "owner": i.owner_telegram_id,
            "expires_at": _iso(i.expires_at),
            "created_at": _iso(i.created_at),
        }
        for i in await query
    ]


async def account_rows(limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    query = TelegramAccount.all().order_by("priority", "id").limit(limit)  # the order the pool tries them
    if status:
        query = query.filter(status=status)
    return [
        {
            "id": a.id,
            "phone": a.masked_phone,
            "status": str(a.status),
            "priority": a.priority,
            "cooldown_until": _iso(a.cooldown_until),
            "created_bots": a.created_bots,
            "bot_limit": a.bot_limit,
            "source": a.source,
            "last_used": _iso(a.last_used),
            "last_error": a.last_error,
        }
        for a in await query
    ]


async def job_rows(limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    query = Job.all().order_by("-id").limit(limit)
    if status:
        query = query.filter(status=status)
    return [
        {
            "id": j.id,
            "kind": j.kind,
            "status": str(j.status),
            "attempts": j.attempts,
            "max_attempts": j.max_attempts,
            "steps": sorted(j.state.keys()) if j.state else [],
            "run_after": _iso(j.run_after),
            "locked_by": j.locked_by,
            "last_error": j.last_error,
        }
        for j in await query
    ]


ROWS: dict[str, Callable[[int, str | None], Awaitable[list[dict[str, Any]]]]] = {
    "orders": order_rows,
    "instances": instance_rows,
    "accounts": account_rows,
    "jobs": job_rows,
}


def render(rows: Sequence[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps(list(rows), ensure_ascii=False, indent=2)
    if not rows:
        return "(none)"
    columns = list(rows[0].keys())
    cells = [[("" if r[c] is None else str(r[c]))[:40] for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
