"""The worker: claims jobs with a concurrency limit, keeps their leases alive, runs periodic sweeps,
and shuts down gracefully (no job is left half-claimed: unfinished ones are handed back).

A handler is `async def handler(claimed: Claimed) -> None`. Returning completes the job. Raising
`RetryLater(run_after)` puts it back without spending an attempt; `PermanentError` makes it dead at
once; any other exception is a failure retried with backoff until the job is dead. When a job
dies, the kind's `on_dead` hook runs (compensation: release resources, tell people).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from models import Job, JobStatus
from services.infra.logging_setup import redact
from services.jobs.queue import Claimed, JobQueue, LeaseLost, utcnow

log = logging.getLogger("meetmatt.worker")

Handler = Callable[[Claimed], Awaitable[None]]
DeadHook = Callable[[Job, str], Awaitable[None]]


class RetryLater(Exception):  # noqa: N818 - it is a signal, not an error
    def __init__(self, run_after: datetime, reason: str = "") -> None:
        super().__init__(reason)
        self.run_after = run_after
        self.reason = reason


class PermanentError(Exception):
    """Retrying cannot help (e.g. the verification expired): the job dies now."""


@dataclass(frozen=True)
class Sweep:
    name: str
    interval: float
    run: Callable[[], Awaitable[object]]


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: dict[str, Handler],
        *,
        concurrency: int = 4,
        poll_interval: float = 0.5,
        sweeps: list[Sweep] | None = None,
        on_dead: dict[str, DeadHook] | None = None,
        shutdown_grace: float = 20.0,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.sweeps = sweeps or []
        self.on_dead = on_dead or {}
        self.shutdown_grace = shutdown_grace
        self._running: dict[asyncio.Task, Claimed] = {}
        # the loop's heartbeat, for /readyz: `running` while `run` is active, `last_tick` each turn
        self.running = False
        self.last_tick = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        sweep_tasks = [
            asyncio.create_task(self._sweep_loop(s, stop), name=f"sweep:{s.name}") for s in self.sweeps
        ]
        log.info("worker started", extra={"worker": self.queue.worker_id, "kinds": ",".join(self.handlers)})
        self.running = True
        try:
            while not stop.is_set():
                self.last_tick = time.monotonic()
                if len(self._running) >= self.concurrency:
                    await self._wait_any_or(stop)
                    continue
                try:
                    claimed = await self.queue.claim(kinds=list(self.handlers))
                except Exception:
                    log.exception("claiming failed; retrying")
                    claimed = None
                if claimed is None:
                    await self._idle(stop)
                    continue
                task = asyncio.create_task(self._execute(claimed), name=f"job:{claimed.id}")
                self._running[task] = claimed
                task.add_done_callback(lambda t: self._running.pop(t, None))
        finally:
            self.running = False
            for task in sweep_tasks:
                task.cancel()
            await asyncio.gather(*sweep_tasks, return_exceptions=True)
            await self._drain()
            log.info("worker stopped", extra={"worker": self.queue.worker_id})

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing to claim: rest one poll interval, or less when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)

    async def _wait_any_or(self, stop: asyncio.Event) -> None:
        stopper = asyncio.create_task(stop.wait())
        # a timeout keeps the loop (and its heartbeat) turning while every slot runs a long job
        await asyncio.wait(
            [*self._running, stopper], timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        stopper.cancel()

    async def _drain(self) -> None:
        """Let running jobs finish within the grace period; hand the rest back unharmed."""
        if not self._running:
            return
        done, pending = await asyncio.wait(list(self._running), timeout=self.shutdown_grace)
        for task in pending:
            claimed = self._running.get(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if claimed is not None:
                with contextlib.suppress(LeaseLost):
                    await self.queue.reschedule(claimed, utcnow(), "worker shut down mid-job; resumed later")

    async def _heartbeat(self, claimed: Claimed, job_task: asyncio.Task) -> None:
        interval = max(1.0, self.queue.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.queue.heartbeat(claimed)
            except LeaseLost:
                log.warning("lease lost; stopping the job here", extra={"job_id": claimed.id})
                job_task.cancel()
                return
            except Exception:
                log.exception("heartbeat failed", extra={"job_id": claimed.id})

    async def _execute(self, claimed: Claimed) -> None:
        job = claimed.job
        handler = self.handlers[job.kind]
        inner = asyncio.create_task(handler(claimed))
        beat = asyncio.create_task(self._heartbeat(claimed, inner))
        try:
            await inner
            if claimed.job.status == JobStatus.RUNNING:
                await self.queue.complete(claimed)
            log.info("job done", extra={"job_id": job.id, "kind": job.kind})
        except asyncio.CancelledError:
            if not inner.cancelled():
                inner.cancel()
            raise
        except RetryLater as later:
            await self.queue.reschedule(claimed, later.run_after, later.reason)
            log.info(
                "job waits",
                extra={
                    "job_id": job.id,
                    "kind": job.kind,
                    "until": later.run_after.isoformat(),
                    "reason": later.reason,
                },
            )
        except LeaseLost:
            log.warning("job lost its lease", extra={"job_id": job.id})
        except Exception as exc:
            error = redact(f"{type(exc).__name__}: {exc}")
            permanent = isinstance(exc, PermanentError)
            log.warning(
                "job failed",
                exc_info=not permanent,
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "error": error},
            )
            try:
                status = await self.queue.fail(claimed, error, retry=not permanent)
            except LeaseLost:
                return
            if status == JobStatus.DEAD and job.kind in self.on_dead:
                try:
                    await self.on_dead[job.kind](await Job.get(id=job.id), error)
                except Exception:
                    log.exception("compensation failed", extra={"job_id": job.id})
        finally:
            beat.cancel()

    async def _sweep_loop(self, sweep: Sweep, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await sweep.run()
            except Exception:
                log.exception("sweep failed", extra={"sweep": sweep.name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=sweep.interval)
