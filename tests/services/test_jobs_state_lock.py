"""save_step's lock is per job: one job saving a step inside a transaction (the saga's activation
does) never waits for another job's save, which on SQLite waits for that transaction's connection.
Found by bench/pipeline.py: 20 concurrent orders on SQLite froze with a queue-wide lock."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from models import Job
from services.jobs.queue import JobQueue


async def test_a_step_saved_inside_a_transaction_does_not_wait_for_another_jobs_save(db: str) -> None:
    queue = JobQueue()
    await queue.enqueue("provision", {"order_id": 1})
    await queue.enqueue("provision", {"order_id": 2})
    first, second = await queue.claim(), await queue.claim()
    assert first is not None and second is not None

    in_progress = asyncio.Event()

    async def other_job() -> None:  # its own task, outside the transaction, like another job
        await in_progress.wait()
        await queue.save_step(second, "ready", True)

    async def activate_first() -> None:
        other = asyncio.create_task(other_job())
        async with in_transaction():
            await Job.filter(id=first.id).update(last_error=None)  # the transaction holds its connection
            in_progress.set()
            await asyncio.sleep(0.05)  # the other job's save is now waiting (SQLite: for the connection)
            await queue.save_step(first, "live", {"at": "now"})
        await other

    await asyncio.wait_for(activate_first(), timeout=10)
    assert (await Job.get(id=first.id)).state == {"live": {"at": "now"}}
    assert (await Job.get(id=second.id)).state == {"ready": True}
