"""Working hours from push to claim, stored at claim time so the timeliness percentiles are one column read."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0005_obligations")]

    initial = False

    operations = [
        ops.AddField(
            model_name="DecisionPush",
            name="claim_hours",
            field=fields.FloatField(null=True),
        ),
    ]
