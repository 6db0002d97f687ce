from tortoise import fields
from tortoise.models import Model

from models.fields import EncryptedTextField


class PlatformKey(Model):
    """A key the whole platform shares, kept with the data (not in a container's disk): created once,
    the same for every worker replica. `name` says which key ("ssh-client": the SSH client key that
    EC2 installs on every instance through the key pair)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    private_openssh = EncryptedTextField()
    public_openssh = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "platform_key"
