from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import OrderStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_platform_key')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Order',
            name='status',
            field=fields.CharEnumField(default=OrderStatus.AWAITING_PAYMENT, db_index=True, description='AWAITING_PAYMENT: awaiting_payment\nPAID: paid\nNEEDS_REVIEW: needs_review\nPROVISIONING: provisioning\nAWAITING_VERIFICATION: awaiting_verification\nACTIVE: active\nEXPIRED: expired\nCANCELLED: cancelled\nFAILED: failed\nREFUNDED: refunded', enum_type=OrderStatus, max_length=24),
        ),
        # SQLite applies AlterField by rebuilding the table, which drops its indexes: put them back
        # (a no-op on PostgreSQL, where they survive)
        ops.RunSQL([
            'CREATE INDEX IF NOT EXISTS "idx_order_status_a1c7e6" ON "order" ("status")',
            'CREATE INDEX IF NOT EXISTS "idx_order_custome_3b6ad1" ON "order" ("customer_id")',
        ]),
        ops.AddField(
            model_name='TelegramAccount',
            name='session_from',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name='TelegramAccount',
            name='session_updated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterModelOptions(
            name='Verification',
            options={'table': 'verification', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A one-tap ownership code for the bot of an instance. Single-use, expiring, wrong codes limited'},
        ),
        ops.AddField(
            model_name='Verification',
            name='wrong_by_sender',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
