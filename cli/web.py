"""`python main.py web`: serve the web application on WEB_HOST:WEB_PORT until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal

from config import Settings, can_start


def register(sub, groups) -> None:
    parser = sub.add_parser(
        "web",
        help="serve /webhooks/stripe, /livez and /readyz on WEB_HOST:WEB_PORT (and /metrics on OPS_PORT)",
    )
    parser.add_argument("--host", default=None, help="override WEB_HOST")
    parser.add_argument("--port", type=int, default=None, help="override WEB_PORT")
    parser.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    if not can_start(settings, "web"):
        return 1
    host = args.host or settings.web_host
    port = settings.web_port if args.port is None else args.port
    asyncio.run(serve(settings, host, port))
    return 0


async def serve(settings: Settings, host: str, port: int) -> None:
    from webhooks.app import create_web_app, run_web_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_web_app(create_web_app(settings), host, port, stop, ops=settings)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
