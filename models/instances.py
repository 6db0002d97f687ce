from tortoise import fields
from tortoise.models import Model

from models.enums import InstanceStatus
from models.fields import EncryptedTextField


class Instance(Model):
    """The EC2 server of a customer and the Telegram bot its agent answers on."""

    id = fields.IntField(primary_key=True)
    order = fields.ForeignKeyField(
        "models.Order", related_name="instances", null=True, on_delete=fields.SET_NULL
    )
    customer = fields.ForeignKeyField(
        "models.Customer", related_name="instances", null=True, db_index=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(
        InstanceStatus, max_length=16, default=InstanceStatus.LAUNCHING, db_index=True
    )
    ec2_instance_id = fields.CharField(max_length=32, null=True, unique=True)
    instance_type = fields.CharField(max_length=32, default="t3.small")
    public_ip = fields.CharField(max_length=64, null=True)
    host_key_public = fields.TextField(null=True)
    host_key_private = EncryptedTextField(null=True)
    gateway_token = EncryptedTextField(null=True)
    bot_username = fields.CharField(max_length=64, null=True)
    bot_id = fields.BigIntField(null=True)
    bot_token = EncryptedTextField(null=True)
    creator_account = fields.ForeignKeyField(
        "models.TelegramAccount", related_name="instances", null=True, on_delete=fields.SET_NULL
    )
    owner_telegram_id = fields.BigIntField(null=True)  # the verified user: the agent's only user
    ever_assigned = fields.BooleanField(default=False)  # served a customer: never reused
    expires_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    stopped_at = fields.DatetimeField(null=True)
    last_health_at = fields.DatetimeField(null=True)
    last_health = fields.JSONField(null=True)
    repair_attempts = fields.IntField(default=0)
    # the customer's persona for their agent (set in /mybots), written into its config at activation
    persona_name = fields.CharField(max_length=32, null=True)
    persona_prompt = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "instance"


class Verification(Model):
    """A one-tap ownership code for the bot of an instance. Single-use, expiring, wrong codes limited
    per sender, accepted only from the customer who ordered."""

    id = fields.IntField(primary_key=True)
    instance = fields.OneToOneField("models.Instance", related_name="verification")
    code = fields.CharField(max_length=64, db_index=True)
    telegram_user_id = fields.BigIntField(null=True)
    attempts = fields.IntField(default=0)  # wrong codes from everyone (shown to admins)
    wrong_by_sender = fields.JSONField(default=dict)  # {"<telegram id>": wrong codes}: limited per sender
    expires_at = fields.DatetimeField()
    verified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "verification"
