"""`python main.py web`: serve the web application on WEB_HOST:WEB_PORT until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio

from cli.config_check import can_start
from config import Settings


def register(sub: argparse._SubParsersAction, groups: dict[str, argparse._SubParsersAction]) -> None:
    parser = sub.add_parser(
        "web",
        help="serve /webhooks/stripe, /livez and /readyz on WEB_HOST:WEB_PORT (and /metrics on OPS_PORT)",
    )
    parser.add_argument("--host", default=None, help="override WEB_HOST")
    parser.add_argument("--port", type=int, default=None, help="override WEB_PORT")
    parser.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from cli.signals import run_until_signal

    if not can_start(settings, "web"):
        return 1
    host = args.host or settings.web_host
    port = settings.web_port if args.port is None else args.port

    async def body(stop: asyncio.Event) -> None:
        await serve(settings, host, port, stop)

    return run_until_signal(body)


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    """The web application over the root's database and job queue, until `stop` is set."""
    from cli.root import WEB, open_root
    from webhooks.app import create_web_app, run_web_app

    async with open_root(settings, WEB) as root:
        await run_web_app(create_web_app(settings, queue=root.queue), host, port, stop, ops=settings)
