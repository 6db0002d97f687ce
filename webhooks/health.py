"""`GET /healthz`: 200 when the database answers `SELECT 1`, 503 otherwise (JSON either way)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from tortoise import connections

log = logging.getLogger(__name__)
DB_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means "not healthy"; the reason is the exception's class
        log.warning("healthz: database check failed: %s", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": f"error: {type(exc).__name__}"},
                                 status=503)
    return web.json_response({"status": "ok", "database": "ok"})
