from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_security_model')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ModelKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.ForeignKeyField('models.Instance', source_field='instance_id', db_index=True, db_constraint=True, to_field='id', related_name='model_keys', on_delete=OnDelete.CASCADE)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('key_prefix', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_reason', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'model_key', 'app': 'models', 'pk_attr': 'id', 'table_description': "A key an instance's agent presents to the model gateway. Only its SHA-256 is stored."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ModelQuotaOverride',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.OneToOneField('models.Instance', source_field='instance_id', db_constraint=True, to_field='id', related_name='model_quota_override', on_delete=OnDelete.CASCADE)),
                ('tokens_per_month', fields.BigIntField(null=True)),
                ('requests_per_minute', fields.IntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'model_quota_override', 'app': 'models', 'pk_attr': 'id', 'table_description': "An admin's override of the package's model quota for one instance (None: the package's)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ModelUsage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.ForeignKeyField('models.Instance', source_field='instance_id', db_index=True, db_constraint=True, to_field='id', related_name='model_usage', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField(db_index=True)),
                ('requests', fields.IntField(default=0)),
                ('prompt_tokens', fields.BigIntField(default=0)),
                ('completion_tokens', fields.BigIntField(default=0)),
                ('cached_tokens', fields.BigIntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'model_usage', 'app': 'models', 'unique_together': (('instance', 'day'),), 'pk_attr': 'id', 'table_description': "What one instance's agent used of the model on one UTC day, as the upstream reported it."},
            bases=['Model'],
        ),
    ]
