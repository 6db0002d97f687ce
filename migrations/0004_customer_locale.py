from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_support_message')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Customer',
            name='locale',
            field=fields.CharField(null=True, max_length=8),
        ),
    ]
