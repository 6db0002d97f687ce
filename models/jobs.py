from tortoise import fields
from tortoise.models import Model

from models.enums import JobStatus


class Job(Model):
    """A durable unit of background work (claim protocol in services.jobs.queue)."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    key = fields.CharField(max_length=255, null=True, unique=True)  # optional de-duplication key
    payload = fields.JSONField(default=dict)
    state = fields.JSONField(default=dict)  # per-step progress, so a resumed job repeats nothing
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    max_attempts = fields.IntField(default=8)
    run_after = fields.DatetimeField(db_index=True)
    locked_by = fields.CharField(max_length=128, null=True)
    locked_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job"
        indexes = (("status", "run_after"),)
