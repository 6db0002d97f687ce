from tortoise import fields
from tortoise.models import Model

from models.enums import AlertSeverity


class Alert(Model):
    """An admin alert. Identical alerts within the merge window bump count instead of repeating."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64, db_index=True)
    severity = fields.CharEnumField(AlertSeverity, max_length=16, default=AlertSeverity.WARNING)
    text = fields.TextField()
    dedup_key = fields.CharField(max_length=255, db_index=True)
    count = fields.IntField(default=1)
    delivered_via = fields.CharField(max_length=64, null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "alert"


class AdminAction(Model):
    """Audit trail of every admin action taken from the bot or the CLI."""

    id = fields.IntField(primary_key=True)
    admin_telegram_id = fields.BigIntField(null=True)
    action = fields.CharField(max_length=64)
    target = fields.CharField(max_length=128, default="")
    detail = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "admin_action"
