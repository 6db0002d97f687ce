"""What `/readyz` reports: the database answers, and each part this process runs is alive.

A `HealthBoard` holds the parts to watch: a task that must keep running (the bot's polling) and the
worker loop, whose heartbeat must be younger than a limit (a loop stuck on a hung call is as dead as
a crashed one). `check()` answers `(ready, {part: "ok" | what is wrong})`; `/livez` never asks it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.jobs.worker import Worker

DB_TIMEOUT = 2.0


class HealthBoard:
    """What /readyz reports: the database, then every watched task or worker."""

    def __init__(self) -> None:
        self._probes: dict[str, Callable[[], str | None]] = {}

    def watch_task(self, name: str, task: asyncio.Task[Any]) -> None:
        """`name` is ready while `task` runs; once it ends (crash, cancel, stop) it is not."""

        def probe() -> str | None:
            if not task.done():
                return None
            if task.cancelled():
                return "stopped (cancelled)"
            error = task.exception()
            return f"stopped ({type(error).__name__})" if error else "stopped"

        self._probes[name] = probe

    def watch_worker(self, worker: Worker, stale_after_s: float) -> None:
        """The worker loop is ready while it runs and ticked within `stale_after_s` seconds."""

        def probe() -> str | None:
            if not worker.running:
                return "stopped"
            age = time.monotonic() - worker.last_tick
            return None if age <= stale_after_s else f"stalled: last heartbeat {age:.0f}s ago"

        self._probes["worker"] = probe

    @property
    def parts(self) -> list[str]:
        return ["database", *self._probes]

    async def check(self) -> tuple[bool, dict[str, str]]:
        report: dict[str, str] = {"database": await _database()}
        for name, probe in self._probes.items():
            report[name] = probe() or "ok"
        return all(v == "ok" for v in report.values()), report


async def _database() -> str:
    from tortoise import connections

    try:
        async with asyncio.timeout(DB_TIMEOUT):
            await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the reason is the exception's class
        return f"error: {type(exc).__name__}"
    return "ok"
