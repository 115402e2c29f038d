"""One push per decision and department: two concurrent re-routes to the same department cannot both win.

A plain unique index (not a model constraint) so that SQLite needs no table rebuild.
"""

from tortoise import migrations
from tortoise.migrations.operations import RunSQL


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0003_inbox_and_audience_indexes")]

    initial = False

    operations = [
        RunSQL(
            "CREATE UNIQUE INDEX uniq_decision_push_department ON decision_push (decision_id, department_id)",
            reverse_sql="DROP INDEX uniq_decision_push_department",
        ),
    ]
