from tortoise import migrations
from tortoise.migrations import operations as ops
from models.fields import EncryptedTextField
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_customer_locale')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PlatformKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('private_openssh', EncryptedTextField(unique=False)),
                ('public_openssh', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'platform_key', 'app': 'models', 'pk_attr': 'id', 'table_description': "A key the whole platform shares, kept with the data (not in a container's disk): created once,"},
            bases=['Model'],
        ),
    ]
