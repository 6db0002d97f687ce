"""Durable job queue over the Job table, on SQLite and PostgreSQL alike.

Protocol:
- `enqueue` writes a pending row (optionally unique per `key`: a second enqueue returns the first).
- `claim` takes one due job with ONE conditional UPDATE: the row must still be pending (or running
  with an expired lease) when the UPDATE applies, so two workers can never both win it. On
  PostgreSQL the candidate is picked with FOR UPDATE SKIP LOCKED, so workers do not queue behind
  each other. The claimer writes a fresh lease token into `locked_by` and reads its row back.
- Every later write (`heartbeat`, `save_step`, `complete`, `fail`, `reschedule`) is conditional on
  that token: a worker that lost its lease learns so (`LeaseLost`) and writes nothing.
- `fail` retries with exponential backoff until `max_attempts`, then the job is `dead`.
- A worker that dies simply stops renewing; its lease expires and `claim` hands the job to another
  worker, which resumes from `state` (the per-step record).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from models import Job, JobStatus
from services.infra.db import dialect
from services.infra.pg_locks import claim_job_skip_locked


class LeaseLost(RuntimeError):
    """The job's lease expired and another worker may own it now: stop touching it."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_delay(attempt: int, base: float = 5.0, cap: float = 900.0) -> float:
    """Seconds to wait before retry number `attempt` (1-based): base * 2^(attempt-1), capped."""
    return float(min(cap, base * (2 ** max(0, attempt - 1))))


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds, with the lease token that proves it."""

    job: Job
    token: str
    # orders the read-modify-write of this job's `state` by its concurrent steps; per job, not per
    # queue: a step that saves inside a transaction (on SQLite, one connection) must never wait for
    # another job's save that itself waits for that connection
    state_lock: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False, repr=False)

    @property
    def id(self) -> int:
        return self.job.id


class JobQueue:
    """Enqueue, claim with a lease, and finish jobs. Safe for many workers on one PostgreSQL."""

    def __init__(
        self,
        worker_id: str | None = None,
        lease_seconds: float = 120.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 900.0,
    ) -> None:
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    # --- producing -------------------------------------------------------------------------------

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        run_after: datetime | None = None,
        max_attempts: int = 8,
        using_db: Any = None,
    ) -> Job:
        """Add a job. With `key`, enqueueing the same key again returns the existing job."""
        if key is not None:
            existing = await Job.filter(key=key).using_db(using_db).first()
            if existing is not None:
                return existing
        try:
            # a savepoint, so a lost race on the unique key leaves the caller's transaction usable
            async with in_transaction() as conn:
                return await Job.create(
                    kind=kind,
                    payload=payload or {},
                    key=key,
                    run_after=run_after or utcnow(),
                    max_attempts=max_attempts,
                    using_db=using_db or conn,
                )
        except IntegrityError:
            if key is None:
                raise
            return await Job.get(key=key)

    # --- consuming -------------------------------------------------------------------------------

    @staticmethod
    def _claimable(now: datetime) -> Q:
        # a job whose lease expired on its last attempt is not handed out again: the stale-lease
        # sweep marks it dead (and its compensation runs)
        return Q(status=JobStatus.PENDING, run_after__lte=now) | Q(
            status=JobStatus.RUNNING, locked_until__lt=now, attempts__lt=F("max_attempts")
        )

    async def claim(self, kinds: list[str] | None = None) -> Claimed | None:
        """Take the next due job, or None. One atomic conditional UPDATE decides the winner."""
        now = utcnow()
        token = f"{self.worker_id}:{uuid.uuid4().hex}"
        if dialect() == "postgres":
            job = await claim_job_skip_locked(token, now + self.lease, now, kinds)
            return Claimed(job, token) if job is not None else None
        candidates = Job.filter(self._claimable(now))
        if kinds:
            candidates = candidates.filter(kind__in=kinds)
        candidate_ids = Subquery(candidates.order_by("run_after", "id").limit(1).values("id"))
        # SQLite runs one writer at a time, so this single statement is atomic there
        updated = await Job.filter(self._claimable(now), id__in=candidate_ids).update(
            status=JobStatus.RUNNING,
            locked_by=token,
            locked_until=now + self.lease,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        if not updated:
            return None
        job = await Job.get_or_none(locked_by=token)
        return Claimed(job, token) if job is not None else None

    async def heartbeat(self, claimed: Claimed) -> None:
        """Extend the lease. Raises LeaseLost when another worker took the job meanwhile."""
        await self._write(claimed, locked_until=utcnow() + self.lease)

    async def save_step(self, claimed: Claimed, step: str, value: Any) -> None:
        """Record a step's outcome on the job (and renew the lease) before moving on.

        Steps of one job may run concurrently (launch and bot creation): the lock keeps their
        read-modify-write of `state` in order.
        """
        async with claimed.state_lock:
            new_state = {**claimed.job.state, step: value}
            await self._write(claimed, state=new_state, locked_until=utcnow() + self.lease)
            claimed.job.state = new_state

    async def complete(self, claimed: Claimed, result: Any = None) -> None:
        state = claimed.job.state if result is None else {**claimed.job.state, "result": result}
        now = utcnow()
        await self._write(
            claimed,
            status=JobStatus.DONE,
            state=state,
            locked_by=None,
            locked_until=None,
            finished_at=now,
            last_error=None,
        )
        claimed.job.status = JobStatus.DONE

    async def fail(self, claimed: Claimed, error: str, *, retry: bool = True) -> JobStatus:
        """Record a failure: retry later with backoff, or mark the job dead when exhausted."""
        job = claimed.job
        now = utcnow()
        if retry and job.attempts < job.max_attempts:
            delay = backoff_delay(job.attempts, self.backoff_base, self.backoff_cap)
            status = JobStatus.PENDING
            await self._write(
                claimed,
                status=status,
                run_after=now + timedelta(seconds=delay),
                locked_by=None,
                locked_until=None,
                last_error=error[:4000],
            )
        else:
            status = JobStatus.DEAD
            await self._write(
                claimed,
                status=status,
                locked_by=None,
                locked_until=None,
                last_error=error[:4000],
                finished_at=now,
            )
        job.status = status
        return status

    async def reschedule(self, claimed: Claimed, run_after: datetime, reason: str = "") -> None:
        """Put the job back without spending an attempt (e.g. waiting for a creator account)."""
        await self._write(
            claimed,
            status=JobStatus.PENDING,
            run_after=run_after,
            locked_by=None,
            locked_until=None,
            attempts=max(0, claimed.job.attempts - 1),
            last_error=reason[:4000] or None,
        )

    async def _write(self, claimed: Claimed, **values: Any) -> None:
        updated = await Job.filter(id=claimed.id, locked_by=claimed.token).update(
            updated_at=utcnow(), **values
        )
        if not updated:
            raise LeaseLost(f"job {claimed.id} is no longer held by {self.worker_id}")

    # --- housekeeping ----------------------------------------------------------------------------

    async def reclaim_expired(self) -> int:
        """Return jobs whose lease ran out to pending (or dead when out of attempts)."""
        now = utcnow()
        expired = Q(status=JobStatus.RUNNING, locked_until__lt=now)
        dead = await Job.filter(expired, attempts__gte=F("max_attempts")).update(
            status=JobStatus.DEAD,
            locked_by=None,
            locked_until=None,
            finished_at=now,
            last_error="lease expired on the last attempt (worker died?)",
            updated_at=now,
        )
        back = await Job.filter(expired).update(
            status=JobStatus.PENDING,
            locked_by=None,
            locked_until=None,
            run_after=now,
            updated_at=now,
        )
        return dead + back

    async def counts(self) -> dict[str, int]:
        rows = await Job.annotate(n=Count("id")).group_by("status").values_list("status", "n")
        counts: dict[str, int] = {status.value: 0 for status in JobStatus}
        for status, n in rows:
            counts[str(status)] = n
        return counts
