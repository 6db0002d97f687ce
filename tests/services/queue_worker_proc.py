"""A worker process for the multi-process queue tests: drains jobs, or claims one and hangs.

usage: python -m tests.services.queue_worker_proc <database_url> <encryption_key> drain|hang <name> [lease]
"""

from __future__ import annotations

import asyncio
import json
import sys

from services.infra.db import close_db, init_db
from services.jobs.queue import JobQueue


async def main(url: str, key: str, mode: str, name: str, lease: float) -> None:
    await init_db(url, key)
    queue = JobQueue(worker_id=name, lease_seconds=lease)
    try:
        if mode == "hang":
            claimed = await queue.claim()
            await queue.save_step(claimed, "first_step", "done-by-" + name)
            print(json.dumps({"claimed": claimed.id}), flush=True)
            await asyncio.sleep(3600)  # killed here, mid-job
        ran: list[int] = []
        while (claimed := await queue.claim()) is not None:
            ran.append(claimed.job.payload["i"])
            await queue.complete(claimed)
        print(json.dumps({"ran": ran}), flush=True)
    finally:
        await close_db()


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1],
            sys.argv[2],
            sys.argv[3],
            sys.argv[4],
            float(sys.argv[5]) if len(sys.argv) > 5 else 60.0,
        )
    )
