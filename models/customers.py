from tortoise import fields
from tortoise.models import Model


class Customer(Model):
    id = fields.IntField(primary_key=True)
    telegram_id = fields.BigIntField(unique=True)
    username = fields.CharField(max_length=64, null=True)
    full_name = fields.CharField(max_length=256, default="")
    language = fields.CharField(max_length=16, null=True)  # the Telegram app's language, as last seen
    locale = fields.CharField(max_length=8, null=True)  # the bot language chosen with /language
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"
