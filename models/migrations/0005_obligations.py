"""Working-day obligations of the later flows (notices, inquiries, inspections...) as rows.

Event.kind becomes a plain column: a new event kind needs no migration.
"""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.enums import ObligationStatus


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0004_one_push_per_department")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Obligation",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("kind", fields.CharField(max_length=32)),
                ("subject_type", fields.CharField(max_length=32)),
                ("subject_id", fields.BigIntField()),
                ("department_id", fields.IntField()),
                (
                    "watchers",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("started_on", fields.DateField()),
                ("working_days", fields.IntField()),
                ("due_on", fields.DateField()),
                ("deadline", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("provisional", fields.BooleanField(default=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ObligationStatus.OPEN,
                        description="OPEN: OPEN\nDONE: DONE\nCANCELLED: CANCELLED",
                        enum_type=ObligationStatus,
                        max_length=16,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("done_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("done_late", fields.BooleanField(default=False)),
                ("reminded_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("overdue_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "obligation",
                "app": "shenguan",
                "indexes": [
                    Index(fields=["status", "deadline"]),
                    Index(fields=["subject_type", "subject_id"]),
                    Index(fields=["department_id", "status", "deadline", "id"]),
                ],
                "pk_attr": "id",
                "table_description": "A department must act on a record by the end of a working day. Never deleted.",
            },
            bases=["Model"],
        ),
        ops.AlterField(
            model_name="Event",
            name="kind",
            field=fields.CharField(max_length=32),
        ),
    ]
