from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_order_managed_bot_id')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SupportMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer_telegram_id', fields.BigIntField(db_index=True)),
                ('admin_chat_id', fields.BigIntField()),
                ('admin_message_id', fields.BigIntField()),
                ('question', fields.TextField(unique=False)),
                ('answers', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'support_message', 'app': 'models', 'unique_together': (('admin_chat_id', 'admin_message_id'),), 'pk_attr': 'id', 'table_description': "A customer's /support question as posted in the admin chat, so an admin's reply finds its way back."},
            bases=['Model'],
        ),
    ]
