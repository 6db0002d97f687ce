from tortoise import fields
from tortoise.models import Model

from models.enums import AccountStatus
from models.fields import EncryptedTextField


class TelegramAccount(Model):
    """A Telegram user account that creates customers' bots through @BotFather."""

    id = fields.IntField(primary_key=True)
    phone = fields.CharField(max_length=32, unique=True)
    api_id = fields.IntField()
    api_hash = EncryptedTextField()
    session = EncryptedTextField(null=True)
    session_from = fields.CharField(max_length=8, null=True)  # env | login: who stored the session
    session_updated_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.ACTIVE, db_index=True)
    priority = fields.IntField(default=100)  # lower is tried first
    cooldown_until = fields.DatetimeField(null=True)
    last_used = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_bots = fields.IntField(default=0)
    bot_limit = fields.IntField(default=20)
    source = fields.CharField(max_length=16, default="db")  # env | db
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "telegram_account"

    @property
    def masked_phone(self) -> str:
        return "…" + self.phone[-4:]
