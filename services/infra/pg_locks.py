"""The two PostgreSQL locks the ORM cannot express, and the only hand-written SQL for them:

- `claim_job_skip_locked`: the job queue's claim, one UPDATE whose candidate is picked with
  FOR UPDATE SKIP LOCKED (the ORM drops FOR UPDATE inside a subquery), so concurrent workers take
  different rows at once instead of queueing behind each other;
- `advisory_lock`: a session advisory lock on a connection of its own, held across processes.

Both are PostgreSQL only; callers use the ORM path on SQLite (one process, one writer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from tortoise import connections

from models import Job

_CLAIM_SQL = """
    UPDATE job SET status = 'running', locked_by = $1, locked_until = $2,
           attempts = attempts + 1, updated_at = $3
    WHERE id = (
        SELECT id FROM job
        WHERE ((status = 'pending' AND run_after <= $3)
               OR (status = 'running' AND locked_until < $3 AND attempts < max_attempts))
              {kind_filter}
        ORDER BY run_after, id LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING *"""


async def claim_job_skip_locked(
    token: str, locked_until: datetime, now: datetime, kinds: list[str] | None
) -> Job | None:
    """Claim the next due job (pending and due, or running with an expired lease and attempts
    left) for `token`, in ONE parameterised statement; None when nothing is due."""
    kind_filter = "AND kind = ANY($4::text[])" if kinds else ""
    params: list[Any] = [token, locked_until, now]
    if kinds:
        params.append(list(kinds))
    rows = await connections.get("default").execute_query_dict(
        _CLAIM_SQL.format(kind_filter=kind_filter), params
    )
    return Job._init_from_db(**rows[0]) if rows else None


@asynccontextmanager
async def advisory_lock(namespace: int, key: int) -> AsyncIterator[None]:
    """Hold `pg_advisory_lock(namespace, key)` for the block, so other processes wait too.

    It lives on a connection of its own (not the ORM pool's, which the caller still needs for its
    writes); closing that connection releases the lock, also when the process dies.
    """
    import asyncpg

    client: Any = connections.get("default")
    conn = await asyncpg.connect(
        host=client.host,
        port=client.port,
        user=client.user,
        password=client.password,
        database=client.database,
        ssl=client.extra.get("ssl"),
    )
    try:
        await conn.execute("SELECT pg_advisory_lock($1, $2)", namespace, key)
        yield
    finally:
        await conn.close()
