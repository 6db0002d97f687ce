"""Shared fixtures.

`db` runs a test once on SQLite and once on the local PostgreSQL. Each test run gets a fresh
PostgreSQL database (created here, migrated with the project's own migrations, dropped at the end)
and a fresh SQLite file; tables are emptied between tests.

Set MEETMATT_TEST_BACKENDS=sqlite (or postgres) to run one backend only, and
MEETMATT_TEST_PG_ADMIN_URL to point at another PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet
from tortoise import connections

from services.infra.db import close_db, init_db, migrate

# the ops listener (/livez, /readyz, /metrics) of every process a test starts takes a free port, so
# concurrent runs on one machine never fight over the default 9100
os.environ.setdefault("OPS_PORT", "0")
PG_ADMIN_URL = os.environ.get("MEETMATT_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("MEETMATT_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
TEST_ENCRYPTION_KEY = Fernet.generate_key().decode()
TABLES = [
    "model_key",
    "model_usage",
    "model_quota_override",
    "verification",
    "instance",
    "order",
    "stripe_event",
    "customer",
    "telegram_account",
    "job",
    "alert",
    "admin_action",
    "support_message",
    "platform_key",
]


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole test run."""
    urls: dict[str, str] = {}
    pg_name = f"meetmatt_test_{uuid.uuid4().hex[:10]}"
    if "sqlite" in BACKENDS:
        path: Path = tmp_path_factory.mktemp("sqlite") / "test.sqlite3"
        urls["sqlite"] = f"sqlite://{path}"
    if "postgres" in BACKENDS:

        async def create() -> None:
            conn = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await conn.execute(f'CREATE DATABASE "{pg_name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        urls["postgres"] = _pg_url(pg_name)
    for url in urls.values():
        asyncio.run(migrate(url, TEST_ENCRYPTION_KEY))
    yield urls
    if "postgres" in urls:

        async def drop() -> None:
            conn = await asyncpg.connect(PG_ADMIN_URL)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())


async def _empty_tables(backend: str) -> None:
    conn = connections.get("default")
    if backend == "postgres":
        quoted = ", ".join(f'"{t}"' for t in TABLES)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        for table in TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')
        await conn.execute_script("DELETE FROM sqlite_sequence")


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, database_urls: dict[str, str]) -> AsyncIterator[str]:
    """An initialised, empty database; yields its URL. Parametrised over SQLite and PostgreSQL."""
    backend = request.param
    if backend not in database_urls:
        pytest.skip(f"{backend} is not in MEETMATT_TEST_BACKENDS")
    url = database_urls[backend]
    await init_db(url, TEST_ENCRYPTION_KEY)
    await _empty_tables(backend)
    try:
        yield url
    finally:
        await close_db()


@pytest.fixture
def backend(db: str) -> str:
    return "postgres" if db.startswith("postgres") else "sqlite"


@pytest.fixture(scope="session")
def openclaw() -> Path:
    """The pinned OpenClaw (`openclaw.mjs`), installed once into the cache and shared by every test
    that runs it (tests/standins/openclaw). Never skipped: a failed install fails the tests."""
    from tests.standins.openclaw import ensure_openclaw

    return ensure_openclaw()
