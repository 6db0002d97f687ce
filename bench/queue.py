"""Job queue throughput on PostgreSQL: jobs/s claimed + completed with 1, 2 and 4 concurrent workers.

usage: python -m bench.queue [--jobs 2000] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
Creates a temporary database, migrates it, measures, drops it. Target: >= 500 jobs/s with 4 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import asyncpg

from services.infra.db import migrate, open_database
from services.jobs.queue import JobQueue


async def run_round(url: str, jobs: int, workers: int) -> float:
    async with open_database(url, None):
        producer = JobQueue()
        for i in range(jobs):
            await producer.enqueue("bench", {"i": i})

        async def worker(n: int) -> int:
            queue = JobQueue(worker_id=f"bench-{n}")
            done = 0
            while (claimed := await queue.claim()) is not None:
                await queue.complete(claimed)
                done += 1
            return done

        started = time.perf_counter()
        done = sum(await asyncio.gather(*(worker(n) for n in range(workers))))
        elapsed = time.perf_counter() - started
        assert done == jobs, f"{done} of {jobs} jobs ran"
        return jobs / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"meetmatt_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = args.admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        await migrate(url)
        print(f"queue bench on PostgreSQL, {args.jobs} jobs per round (claim + complete)")
        for workers in (1, 2, 4):
            rate = await run_round(url, args.jobs, workers)
            print(f"  workers={workers}  {rate:8.0f} jobs/s")
        print("target: >= 500 jobs/s with 4 workers")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
