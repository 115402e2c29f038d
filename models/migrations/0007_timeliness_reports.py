"""Timeliness reports (Art. 19): one row per produced report and period."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from models.enums import ReportKind


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0006_claim_hours")]

    initial = False

    operations = [
        ops.CreateModel(
            name="TimelinessReport",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "kind",
                    fields.CharEnumField(
                        description="MONTHLY: MONTHLY\nON_DEMAND: ON_DEMAND", enum_type=ReportKind, max_length=16
                    ),
                ),
                ("period_start", fields.DateField()),
                ("period_end", fields.DateField()),
                ("generated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("generated_by_id", fields.IntField(null=True)),
                ("xlsx_path", fields.CharField(max_length=255)),
                ("csv_path", fields.CharField(max_length=255)),
                ("xlsx_sha256", fields.CharField(max_length=64)),
                ("departments", fields.IntField(default=0)),
                ("red_flags", fields.IntField(default=0)),
            ],
            options={
                "table": "timeliness_report",
                "app": "shenguan",
                "unique_together": (("kind", "period_start", "period_end"),),
                "pk_attr": "id",
                "table_description": "A produced report: its period, files and digests.",
            },
            bases=["Model"],
        ),
    ]
