"""The model gateway's data: per-instance model keys (hashed), daily usage, per-instance quota overrides."""

from tortoise import fields
from tortoise.models import Model


class ModelKey(Model):
    """A key an instance's agent presents to the model gateway. Only its SHA-256 is stored."""

    id = fields.IntField(primary_key=True)
    instance = fields.ForeignKeyField(
        "models.Instance", related_name="model_keys", db_index=True, on_delete=fields.CASCADE
    )
    key_hash = fields.CharField(max_length=64, unique=True)
    key_prefix = fields.CharField(max_length=16)  # the first characters, to tell keys apart in views
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "model_key"


class ModelUsage(Model):
    """What one instance's agent used of the model on one UTC day, as the upstream reported it."""

    id = fields.IntField(primary_key=True)
    instance = fields.ForeignKeyField(
        "models.Instance", related_name="model_usage", db_index=True, on_delete=fields.CASCADE
    )
    day = fields.DateField(db_index=True)
    requests = fields.IntField(default=0)
    prompt_tokens = fields.BigIntField(default=0)  # includes the cached ones, as OpenAI counts them
    completion_tokens = fields.BigIntField(default=0)
    cached_tokens = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "model_usage"
        unique_together = (("instance", "day"),)


class ModelQuotaOverride(Model):
    """An admin's override of the package's model quota for one instance (None: the package's)."""

    id = fields.IntField(primary_key=True)
    instance = fields.OneToOneField(
        "models.Instance", related_name="model_quota_override", on_delete=fields.CASCADE
    )
    tokens_per_month = fields.BigIntField(null=True)
    requests_per_minute = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "model_quota_override"
