"""The one signal helper of the long-running commands (`run`, `bot`, `web`, `worker`): SIGINT and
SIGTERM set a stop event the command's body waits on, so every part shuts down in order."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def until_signal(body: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `body(stop)`; SIGINT/SIGTERM set `stop`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        await body(stop)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def run_until_signal(body: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """`python main.py <command>`'s loop: run `body` until a stop signal; exit code 0."""
    asyncio.run(until_signal(body))
    return 0
