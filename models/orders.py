from tortoise import fields
from tortoise.models import Model

from models.enums import OrderStatus


class Order(Model):
    """One purchase: a new agent, or a renewal of an existing one (renews)."""

    id = fields.IntField(primary_key=True)
    customer = fields.ForeignKeyField("models.Customer", related_name="orders", db_index=True)
    package = fields.CharField(max_length=32)
    bot_name = fields.CharField(max_length=64)
    bot_username = fields.CharField(max_length=32, null=True)
    description = fields.TextField(default="")
    avatar_file_id = fields.CharField(max_length=256, null=True)
    creation_mode = fields.CharField(max_length=16, default="pool")  # pool | managed
    managed_bot_id = fields.BigIntField(null=True)  # the bot Telegram created for us (managed mode)
    status = fields.CharEnumField(
        OrderStatus, max_length=24, default=OrderStatus.AWAITING_PAYMENT, db_index=True
    )
    renews = fields.ForeignKeyField(
        "models.Instance", related_name="renewals", null=True, on_delete=fields.SET_NULL
    )
    stripe_session_id = fields.CharField(max_length=255, null=True, unique=True)
    checkout_url = fields.TextField(null=True)
    stripe_payment_intent = fields.CharField(max_length=255, null=True)
    amount = fields.IntField(default=0)  # smallest currency unit
    currency = fields.CharField(max_length=8, default="usd")
    amount_refunded = fields.IntField(default=0)
    paid_at = fields.DatetimeField(null=True)
    closed_reason = fields.TextField(null=True)
    progress_chat_id = fields.BigIntField(null=True)
    progress_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "order"


class StripeEvent(Model):
    """Every Stripe event accepted, once. The unique event id makes redeliveries no-ops."""

    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=255, unique=True)
    type = fields.CharField(max_length=128)
    outcome = fields.CharField(max_length=64, default="received")
    payload = fields.JSONField(null=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "stripe_event"
