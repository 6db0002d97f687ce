"""Meet Matt command line: `python main.py <command>`. Run `python main.py --help` for the list.

This module only builds the parser and dispatches: each command lives in cli/."""

from __future__ import annotations

import argparse
import importlib
import sys

from config import get_settings

GROUPS = ("orders", "instances", "accounts", "jobs")

# Each area adds its own commands: a module with `register(sub, groups)`, where `sub` is the
# top-level subparsers action and `groups` maps each of GROUPS to its subparsers. The order here is
# the order of `--help`.
COMMAND_MODULES = [
    "cli.setup",
    "cli.views",
    "cli.orders",
    "cli.run",
    "cli.web",
    "cli.bot",
    "cli.worker",
    "cli.sandbox",
    "cli.accounts",
    "cli.instances",
    "cli.model_gateway",
]


class _Groups(dict[str, argparse._SubParsersAction]):
    """`orders`, `instances`, `accounts`, `jobs`: each added when a module first registers in it, so
    `--help` lists them where their first command module stands."""

    def __init__(self, sub: argparse._SubParsersAction) -> None:
        super().__init__()
        self._sub = sub

    def __missing__(self, what: str) -> argparse._SubParsersAction:
        if what not in GROUPS:
            raise KeyError(what)
        group = self._sub.add_parser(what, help=f"operator view of {what}")
        self[what] = group_sub = group.add_subparsers(dest="action", required=True)
        return group_sub


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python main.py", description="Meet Matt: AI agents on Telegram")
    sub = parser.add_subparsers(dest="command", required=True)
    groups = _Groups(sub)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub, groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    from services.infra.logging_setup import setup_logging

    setup_logging(settings.log_level, settings.log_format, settings.secret_values())
    from cli.errors import is_operator_error, one_line

    try:
        return args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not is_operator_error(exc):
            raise  # a bug: its traceback is what a report needs
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
        print(f"{parser.prog} {command}: {one_line(exc)}", file=sys.stderr)  # says what to do
        return 1


if __name__ == "__main__":
    sys.exit(main())
