from tortoise import fields
from tortoise.models import Model


class SupportMessage(Model):
    """A customer's /support question as posted in the admin chat, so an admin's reply finds its way back."""

    id = fields.IntField(primary_key=True)
    customer_telegram_id = fields.BigIntField(db_index=True)
    admin_chat_id = fields.BigIntField()
    admin_message_id = fields.BigIntField()
    question = fields.TextField()
    answers = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    answered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "support_message"
        unique_together = (("admin_chat_id", "admin_message_id"),)
