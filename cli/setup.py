"""`python main.py gen-key|check-config|migrate`: the commands an operator runs before the others."""

from __future__ import annotations

import argparse
import asyncio
import json

from cli.config_check import COMMANDS
from config import Settings, secret_value


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    sub.add_parser("gen-key", help="print a new ENCRYPTION_KEY").set_defaults(func=cmd_gen_key)
    check = sub.add_parser(
        "check-config",
        help="report missing, placeholder or malformed settings per "
        "component; exit 1 if COMMAND cannot start",
    )
    check.add_argument(
        "--for",
        dest="command_for",
        choices=COMMANDS,
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


def cmd_gen_key(_: argparse.Namespace, __: Settings) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    from cli.config_check import check_settings, problems_for
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


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    from services.infra.db import migrate

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            print(f"applied {app}.{name}")

    asyncio.run(migrate(settings.database_url, secret_value(settings.encryption_key), progress=progress))
    print(f"database is up to date ({settings.database_url.split('://', 1)[0]})")
    return 0
