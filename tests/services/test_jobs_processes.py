"""The queue across real OS processes on PostgreSQL: no double claims, and a killed worker's job
is finished by another after its lease runs out."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from models import Job, JobStatus
from services.jobs.queue import JobQueue
from tests.conftest import TEST_ENCRYPTION_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _spawn(url: str, mode: str, name: str, lease: float = 60.0) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.services.queue_worker_proc",
        url,
        TEST_ENCRYPTION_KEY,
        mode,
        name,
        str(lease),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


# several worker processes share one PostgreSQL in production; SQLite deployments run one process
pytestmark = pytest.mark.parametrize("db", ["postgres"], indirect=True)


async def test_two_processes_drain_1000_jobs_each_exactly_once(db: str) -> None:
    q = JobQueue()
    for i in range(1000):
        await q.enqueue("n", {"i": i})
    procs = [await _spawn(db, "drain", f"proc{n}") for n in range(2)]
    outputs = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
    ran: list[int] = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        ran += json.loads(out.decode().strip().splitlines()[-1])["ran"]
    assert sorted(ran) == list(range(1000))
    assert all(json.loads(o.decode().strip().splitlines()[-1])["ran"] for o, _ in outputs), (
        "both processes took part"
    )
    assert await Job.filter(status=JobStatus.DONE).count() == 1000


async def test_killed_worker_loses_its_lease_and_another_finishes_the_job(db: str) -> None:
    q = JobQueue(worker_id="survivor")
    job = await q.enqueue("n", {"i": 0})
    proc = await _spawn(db, "hang", "doomed", lease=1.0)
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert json.loads(line)["claimed"] == job.id
    assert await q.claim() is None  # leased to the doomed worker
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    claimed = None
    for _ in range(50):
        claimed = await q.claim()
        if claimed:
            break
        await asyncio.sleep(0.1)
    assert claimed is not None and claimed.id == job.id and claimed.job.attempts == 2
    assert claimed.job.state == {"first_step": "done-by-doomed"}  # resumes after the recorded step
    await q.complete(claimed)
    assert (await Job.get(id=job.id)).status == JobStatus.DONE
