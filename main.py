"""Meet Matt command line: `python main.py <command>`. Run `python main.py --help` for the list."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Awaitable, Callable

from config import Settings, get_settings, secret_value


def cmd_gen_key(_: argparse.Namespace, __: Settings) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    from cli.config_check import COMMANDS, check_settings, problems_for
    from services.accounts.env_import import environment, read_env_accounts

    reports = check_settings(settings)
    _, account_problems = read_env_accounts(environment())
    pool = next(r for r in reports if r.name == "creator pool")
    pool.malformed += [f"not imported: {problem}" for problem in account_problems]
    startable = {command: not problems_for(command, settings) for command in COMMANDS}
    online = None
    if args.online:
        from cli.online_checks import run_online_checks

        online = asyncio.run(run_online_checks(settings))
    failed_online = [c for c in online or [] if not c.ok]
    if args.json:
        print(
            json.dumps(
                {
                    "components": [r.as_dict() for r in reports],
                    "can_start": startable,
                    "online": [c.as_dict() for c in online] if online is not None else None,
                },
                indent=2,
            )
        )
    else:
        for report in reports:
            needed = ", ".join(c for c in COMMANDS if c in report.needed_by) or "no command (optional)"
            mark = "ok" if report.ok else ("MISSING/INVALID" if report.needed_by else "incomplete")
            print(f"[{mark}] {report.name} (needed by: {needed})")
            for label, items in (
                ("missing", report.missing),
                ("malformed", report.malformed),
                ("warning", report.warnings),
                ("note", report.notes),
            ):
                for item in items:
                    print(f"    {label + ':':<10} {item}")
        for check in online or []:
            print(f"[online {'ok' if check.ok else 'FAILED'}] {check.name}: {check.detail}")
        print()
        for command in COMMANDS:
            print(f"`python main.py {command}` " + ("can start." if startable[command] else "cannot start."))
    return 1 if not startable[args.command_for] or failed_online else 0


async def _with_db(settings: Settings, body: Callable[[], Awaitable[int]]) -> int:
    from cli.root import open_root

    async with open_root(settings):
        return await body()


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    from services.infra.db import migrate

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            print(f"applied {app}.{name}")

    asyncio.run(migrate(settings.database_url, secret_value(settings.encryption_key), progress=progress))
    print(f"database is up to date ({settings.database_url.split('://', 1)[0]})")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from cli import views

    async def body() -> int:
        if args.what == "orders":
            rows = await views.order_rows(args.limit, args.status)
        elif args.what == "instances":
            rows = await views.instance_rows(args.limit, args.status)
        elif args.what == "accounts":
            rows = [r for r in await views.account_rows() if args.status in (None, r["status"])]
        else:
            rows = await views.job_rows(args.limit, args.status)
        print(views.render(rows, args.json))
        return 0

    return asyncio.run(_with_db(settings, body))


# Each area adds its own commands: a module with `register(sub, groups)`, where `sub` is the
# top-level subparsers action and `groups` maps "orders"/"instances"/"accounts"/"jobs" to theirs.
COMMAND_MODULES = [
    "cli.run",
    "cli.web",
    "cli.bot",
    "cli.worker",
    "cli.sandbox",
    "cli.accounts",
    "cli.instances",
    "cli.model_gateway",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python main.py", description="Meet Matt: AI agents on Telegram")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("gen-key", help="print a new ENCRYPTION_KEY").set_defaults(func=cmd_gen_key)
    check = sub.add_parser(
        "check-config",
        help="report missing, placeholder or malformed settings per "
        "component; exit 1 if COMMAND cannot start",
    )
    check.add_argument(
        "--for",
        dest="command_for",
        choices=["run", "bot", "web", "worker"],
        default="run",
        help="the command whose start decides the exit code (default: run)",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument(
        "--online",
        action="store_true",
        help="also try each credential against its service (Bot API getMe, Stripe balance, "
        "AWS STS, each creator account's get_me); values are never printed",
    )
    check.set_defaults(func=cmd_check_config)
    sub.add_parser("migrate", help="apply database migrations (safe to run twice)").set_defaults(
        func=cmd_migrate
    )
    from models.enums import AccountStatus, InstanceStatus, JobStatus, OrderStatus

    # `--status` takes the models' own values: a typo is a usage error, not an empty list
    statuses = {
        "orders": OrderStatus,
        "instances": InstanceStatus,
        "accounts": AccountStatus,
        "jobs": JobStatus,
    }
    groups = {}
    for what in ("orders", "instances", "accounts", "jobs"):
        group = sub.add_parser(what, help=f"operator view of {what}")
        groups[what] = group_sub = group.add_subparsers(dest="action", required=True)
        lister = group_sub.add_parser("list", help=f"list {what} (read-only)")
        lister.add_argument("--json", action="store_true", help="machine-readable output")
        lister.add_argument("--limit", type=int, default=50)
        lister.add_argument(
            "--status",
            default=None,
            choices=[s.value for s in statuses[what]],
            help="only rows with this status",
        )
        lister.set_defaults(func=cmd_list, what=what)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    from services.infra.logging_setup import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.secret_values())
    from services.infra.operator_errors import OperatorError

    try:
        return args.func(args, settings)
    except OperatorError as exc:  # the message says what to do: no traceback
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
