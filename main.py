"""Meet Matt command line: `python main.py <command>`. Run `python main.py --help` for the list."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from collections.abc import Awaitable, Callable

from config import Settings, check_settings, get_settings, secret_value


def cmd_gen_key(_: argparse.Namespace, __: Settings) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def cmd_check_config(_: argparse.Namespace, settings: Settings) -> int:
    reports = check_settings(settings)
    blocking = False
    for report in reports:
        mark = "ok" if report.ok else ("MISSING/INVALID" if report.needed_by_run else "incomplete")
        print(f"[{mark}] {report.name}{'' if report.needed_by_run else ' (optional)'}")
        for item in report.missing:
            print(f"    missing:   {item}")
        for item in report.malformed:
            print(f"    malformed: {item}")
        for item in report.notes:
            print(f"    note:      {item}")
        blocking |= report.needed_by_run and not report.ok
    print("\n`python main.py run` can start." if not blocking else
          "\n`python main.py run` cannot start until the components above marked MISSING/INVALID are set.")
    return 1 if blocking else 0


async def _with_db(settings: Settings, body: Callable[[], Awaitable[int]]) -> int:
    from services.db import open_database

    async with open_database(settings):
        return await body()


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    from services.db import migrate

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            print(f"applied {app}.{name}")

    asyncio.run(migrate(settings.database_url, secret_value(settings.encryption_key), progress=progress))
    print(f"database is up to date ({settings.database_url.split('://', 1)[0]})")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from services import operator_views as views

    async def body() -> int:
        if args.what == "orders":
            rows = await views.order_rows(args.limit, args.status)
        elif args.what == "instances":
            rows = await views.instance_rows(args.limit, args.status)
        elif args.what == "accounts":
            rows = await views.account_rows()
        else:
            rows = await views.job_rows(args.limit, args.status)
        print(views.render(rows, args.json))
        return 0

    return asyncio.run(_with_db(settings, body))


def cmd_not_built(args: argparse.Namespace, _: Settings) -> int:
    print(f"`{args.command}` is not built yet in this version of Meet Matt.", file=sys.stderr)
    return 2


# Each area adds its own commands: a module with `register(sub, groups)`, where `sub` is the
# top-level subparsers action and `groups` maps "orders"/"instances"/"accounts"/"jobs" to theirs.
COMMAND_MODULES = ["webhooks.cli", "bot.cli", "services.accounts_cli", "services.cloud_cli",
                   "services.worker_cli", "services.model_gateway_cli"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python main.py", description="Meet Matt: AI agents on Telegram")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("gen-key", help="print a new ENCRYPTION_KEY").set_defaults(func=cmd_gen_key)
    sub.add_parser("check-config", help="report missing or malformed settings per component") \
        .set_defaults(func=cmd_check_config)
    sub.add_parser("migrate", help="apply database migrations (safe to run twice)") \
        .set_defaults(func=cmd_migrate)
    groups = {}
    for what in ("orders", "instances", "accounts", "jobs"):
        group = sub.add_parser(what, help=f"operator view of {what}")
        groups[what] = group_sub = group.add_subparsers(dest="action", required=True)
        lister = group_sub.add_parser("list", help=f"list {what} (read-only)")
        lister.add_argument("--json", action="store_true", help="machine-readable output")
        lister.add_argument("--limit", type=int, default=50)
        lister.add_argument("--status", default=None)
        lister.set_defaults(func=cmd_list, what=what)
    for module_name in COMMAND_MODULES:
        if importlib.util.find_spec(module_name) is not None:
            importlib.import_module(module_name).register(sub, groups)
    known = set(sub.choices)
    for name in ("run", "bot", "web", "worker", "sandbox"):
        if name not in known:
            sub.add_parser(name, help="(not built yet)").set_defaults(func=cmd_not_built)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    from services.logging_setup import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.secret_values())
    try:
        return args.func(args, settings)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
