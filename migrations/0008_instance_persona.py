from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_model_gateway')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Instance',
            name='persona_name',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Instance',
            name='persona_prompt',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
