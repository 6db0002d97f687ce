"""Database set-up: one Tortoise config for SQLite and PostgreSQL, init/close, and migrations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as migrate_api

from models.fields import install_cipher

log = logging.getLogger("meetmatt.db")

MigrationProgress = Callable[[str, str, str], None]  # (event, app, migration name)


def normalize_url(url: str) -> str:
    """Accept the usual spellings (postgresql://, postgres://) and make a SQLite folder exist."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and not url.startswith("sqlite://:memory:"):
        path = Path(url[len("sqlite://") :].split("?", 1)[0])
        path.parent.mkdir(parents=True, exist_ok=True)
    return url


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": normalize_url(database_url)},
        "apps": {
            "models": {
                "models": ["models"],
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def dialect() -> str:
    return connections.get("default").capabilities.dialect


async def init_db(database_url: str, encryption_key: str | None) -> None:
    """Open the ORM without the migration check (test fixtures; processes use `open_database`)."""
    install_cipher(encryption_key)
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def missing_tables() -> list[str]:
    """The models' tables the database does not have (all of them on a never-migrated database)."""
    conn = connections.get("default")
    if dialect() == "sqlite":
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await conn.execute_query_dict(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        )
    present = {r["name"] for r in rows}
    wanted = [model._meta.db_table for model in Tortoise.apps["models"].values()]
    return sorted(t for t in wanted if t not in present)


async def require_migrated() -> None:
    """DatabaseNotMigrated (the CLI says: run `python main.py migrate` first) when tables are missing."""
    from services.infra.operator_errors import DatabaseNotMigrated

    missing = await missing_tables()
    if missing:
        raise DatabaseNotMigrated(missing)


@asynccontextmanager
async def open_database(
    database_url: str, encryption_key: str | None, *, announce: bool = False
) -> AsyncIterator[None]:
    """THE way a process opens the ORM (every command, the web server, the benches): open on
    `database_url` with the field cipher of `encryption_key`, refuse (closing again) a database that
    was never migrated or misses a newer migration's tables (DatabaseNotMigrated: the CLI says
    "run `python main.py migrate` first"), and close it when the body ends."""
    await init_db(database_url, encryption_key)
    try:
        await require_migrated()
    except BaseException:
        await close_db()
        raise
    level = logging.INFO if announce else logging.DEBUG  # a server says so; an operator's command stays quiet
    log.log(level, "database opened (%s)", database_url.split("://", 1)[0])
    try:
        yield
    finally:
        await close_db()
        log.log(level, "database closed")


async def close_db() -> None:
    from tortoise import context
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    await Tortoise.close_connections()
    # allow a later init in the same process on another database (tests, sandbox): Tortoise keys
    # its cached SQL by connection name, not by dialect
    context._global_context = None
    EXECUTOR_CACHE.clear()


async def migrate(
    database_url: str, encryption_key: str | None = None, progress: MigrationProgress | None = None
) -> None:
    """Apply every pending migration. Safe to run again: applied ones are recorded and skipped."""
    install_cipher(encryption_key)
    try:
        await migrate_api(config=tortoise_config(database_url), progress=progress)
    finally:
        await close_db()
