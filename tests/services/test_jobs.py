from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models import Job, JobStatus
from services.jobs.queue import JobQueue, LeaseLost, backoff_delay, utcnow


@pytest.mark.parametrize(("attempt", "expected"), [(1, 5.0), (2, 10.0), (3, 20.0), (10, 900.0)])
def test_backoff_doubles_and_is_capped(attempt: int, expected: float) -> None:
    assert backoff_delay(attempt, base=5.0, cap=900.0) == expected


async def test_enqueue_with_key_returns_the_first_job(db: str) -> None:
    q = JobQueue()
    first = await q.enqueue("provision", {"order": 1}, key="provision:1")
    second = await q.enqueue("provision", {"order": 1}, key="provision:1")
    assert first.id == second.id
    assert await Job.all().count() == 1


async def test_claim_complete_records_steps(db: str) -> None:
    q = JobQueue()
    job = await q.enqueue("provision", {"order": 7})
    claimed = await q.claim()
    assert claimed is not None and claimed.id == job.id
    assert claimed.job.attempts == 1 and claimed.job.status == JobStatus.RUNNING
    assert await q.claim() is None  # nothing else is due
    await q.save_step(claimed, "launch_instance", {"ec2": "i-123"})
    await q.complete(claimed)
    row = await Job.get(id=job.id)
    assert row.status == JobStatus.DONE
    assert row.state == {"launch_instance": {"ec2": "i-123"}}
    assert row.locked_by is None and row.finished_at is not None


async def test_failures_back_off_then_die(db: str) -> None:
    q = JobQueue(backoff_base=0.0)
    job = await q.enqueue("x", max_attempts=2)
    claimed = await q.claim()
    assert await q.fail(claimed, "boom 1") == JobStatus.PENDING
    claimed = await q.claim()
    assert claimed is not None and claimed.job.attempts == 2
    assert await q.fail(claimed, "boom 2") == JobStatus.DEAD
    row = await Job.get(id=job.id)
    assert row.status == JobStatus.DEAD and row.last_error == "boom 2"
    assert await q.claim() is None


async def test_failed_job_waits_for_its_backoff(db: str) -> None:
    q = JobQueue(backoff_base=60.0)
    await q.enqueue("x")
    claimed = await q.claim()
    await q.fail(claimed, "transient")
    assert await q.claim() is None
    row = await Job.get(id=claimed.id)
    assert row.run_after > utcnow() + timedelta(seconds=50)


async def test_expired_lease_is_reclaimed_and_old_holder_is_locked_out(db: str) -> None:
    slow = JobQueue(worker_id="slow", lease_seconds=0.2)
    fast = JobQueue(worker_id="fast", lease_seconds=30)
    await slow.enqueue("x")
    held = await slow.claim()
    await slow.save_step(held, "launch_instance", "i-1")
    await asyncio.sleep(0.3)
    taken = await fast.claim()
    assert taken is not None and taken.id == held.id and taken.job.attempts == 2
    assert taken.job.state == {"launch_instance": "i-1"}  # resumes from the recorded step
    with pytest.raises(LeaseLost):
        await slow.heartbeat(held)
    with pytest.raises(LeaseLost):
        await slow.complete(held)
    await fast.complete(taken)
    assert (await Job.get(id=held.id)).status == JobStatus.DONE


async def test_reclaim_expired_returns_jobs_to_pending_or_dead(db: str) -> None:
    q = JobQueue(lease_seconds=0.1)
    a = await q.enqueue("x", max_attempts=5)
    b = await q.enqueue("x", max_attempts=1)
    await q.claim()
    await q.claim()
    await asyncio.sleep(0.2)
    assert await q.reclaim_expired() == 2
    assert (await Job.get(id=a.id)).status == JobStatus.PENDING
    assert (await Job.get(id=b.id)).status == JobStatus.DEAD


async def test_reschedule_does_not_spend_an_attempt(db: str) -> None:
    q = JobQueue()
    await q.enqueue("x")
    claimed = await q.claim()
    await q.reschedule(claimed, utcnow() - timedelta(seconds=1), "pool exhausted")
    again = await q.claim()
    assert again is not None and again.job.attempts == 1


async def test_claim_filters_by_kind(db: str) -> None:
    q = JobQueue()
    await q.enqueue("alert")
    prov = await q.enqueue("provision")
    claimed = await q.claim(kinds=["provision"])
    assert claimed is not None and claimed.id == prov.id


async def test_four_workers_drain_1000_jobs_each_exactly_once(db: str) -> None:
    q = JobQueue()
    for i in range(1000):
        await q.enqueue("n", {"i": i})
    seen: list[int] = []

    async def worker(name: str) -> None:
        wq = JobQueue(worker_id=name)
        while (claimed := await wq.claim()) is not None:
            seen.append(claimed.job.payload["i"])
            await wq.complete(claimed)

    await asyncio.gather(*(worker(f"w{n}") for n in range(4)))
    assert sorted(seen) == list(range(1000))
    assert (await q.counts())["done"] == 1000


async def test_an_expired_lease_on_the_last_attempt_is_not_handed_out_again(db: str) -> None:
    q = JobQueue(lease_seconds=0.1)
    job = await q.enqueue("x", max_attempts=1)
    await q.claim()
    await asyncio.sleep(0.2)
    assert await q.claim() is None  # out of attempts: only the sweep may touch it now
    assert await q.reclaim_expired() == 1
    row = await Job.get(id=job.id)
    assert row.status == JobStatus.DEAD and row.attempts == 1
