"""`python main.py sandbox`: walk one order end to end through the local stand-ins.

The stand-ins live in the tests (tests/standins): this is the ONE place outside tests/ and bench/
that loads them, lazily, and only when the command runs (it needs the test extra).
"""

from __future__ import annotations

import argparse
import asyncio

from config import Settings


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    sandbox = sub.add_parser(
        "sandbox", help="walk one order end to end through local stand-ins (needs the test extra)"
    )
    sandbox.set_defaults(func=cmd_sandbox)


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from services.infra.operator_errors import OperatorError

    try:
        import moto  # noqa: F401
    except ImportError:
        raise OperatorError("it needs the test extra: pip install -e '.[test]'") from None
    from tests.standins.sandbox import run_sandbox  # the one lazy import of the stand-ins

    return asyncio.run(run_sandbox())
