from __future__ import annotations

import asyncio
from datetime import timedelta

from models import Job, JobStatus
from services.jobs.queue import Claimed, JobQueue, utcnow
from services.jobs.worker import PermanentError, RetryLater, Sweep, Worker


async def _run_until(worker: Worker, condition, timeout: float = 10.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not await condition():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_worker_runs_handlers_within_its_concurrency_limit(db: str) -> None:
    queue = JobQueue(worker_id="w", lease_seconds=30)
    for i in range(12):
        await queue.enqueue("work", {"i": i})
    active = 0
    peak = 0
    ran: list[int] = []

    async def handler(claimed: Claimed) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        ran.append(claimed.job.payload["i"])
        active -= 1

    worker = Worker(queue, {"work": handler}, concurrency=3, poll_interval=0.05)
    await _run_until(worker, lambda: _count(JobStatus.DONE, 12))
    assert sorted(ran) == list(range(12)) and peak == 3


async def _count(status: JobStatus, expected: int) -> bool:
    return await Job.filter(status=status).count() == expected


async def test_retry_later_spends_no_attempt_and_permanent_error_kills_with_compensation(db: str) -> None:
    queue = JobQueue(worker_id="w")
    waiting = await queue.enqueue("wait")
    doomed = await queue.enqueue("doom")
    compensated: list[tuple[int, str]] = []

    async def wait_handler(claimed: Claimed) -> None:
        raise RetryLater(utcnow() + timedelta(hours=1), "no creator account free")

    async def doom_handler(claimed: Claimed) -> None:
        raise PermanentError("verification expired")

    async def on_dead(job: Job, error: str) -> None:
        compensated.append((job.id, error))

    worker = Worker(
        queue, {"wait": wait_handler, "doom": doom_handler}, on_dead={"doom": on_dead}, poll_interval=0.05
    )
    await _run_until(worker, lambda: _count(JobStatus.DEAD, 1))
    row = await Job.get(id=waiting.id)
    assert row.status == JobStatus.PENDING and row.attempts == 0
    assert row.last_error == "no creator account free"
    assert compensated == [(doomed.id, "PermanentError: verification expired")]


async def test_shutdown_hands_back_an_unfinished_job(db: str) -> None:
    queue = JobQueue(worker_id="w")
    job = await queue.enqueue("slow")
    started = asyncio.Event()

    async def slow(claimed: Claimed) -> None:
        started.set()
        await asyncio.sleep(3600)

    worker = Worker(queue, {"slow": slow}, poll_interval=0.05, shutdown_grace=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)
    row = await Job.get(id=job.id)
    assert row.status == JobStatus.PENDING and row.locked_by is None and row.attempts == 0


async def test_sweeps_run_periodically(db: str) -> None:
    calls = 0

    async def sweep() -> None:
        nonlocal calls
        calls += 1

    worker = Worker(JobQueue(), {}, sweeps=[Sweep("count", 0.05, sweep)], poll_interval=0.05)

    async def enough() -> bool:
        return calls >= 3

    await _run_until(worker, enough)
    assert calls >= 3
