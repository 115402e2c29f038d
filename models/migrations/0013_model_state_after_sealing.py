"""The migration state catches up with the sealed personal-data columns and the audit chain.

Migrations 0011 and 0012 made these changes in the database by hand (widening columns with raw SQL
on PostgreSQL, SQLite does not enforce VARCHAR lengths); here they are only recorded, so that the
state matches the models without rebuilding the tables.
"""

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.crypto import SealedField
from models.login_guard import Outcome
from models.migration_ops import StateOnly


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0012_audit_chain_and_login_attempts")]

    initial = False

    operations = [
        StateOnly(
            ops.AlterModelOptions(
                name="AuditRecord",
                options={
                    "table": "audit_record",
                    "app": "shenguan",
                    "indexes": [
                        Index(fields=["object_type", "object_id"]),
                        Index(fields=["actor_id", "at"]),
                        Index(fields=["at"]),
                    ],
                    "pk_attr": "id",
                    "table_description": "One audited action. Never updated or deleted by the application (no mutation reaches it).",
                },
            )
        ),
        StateOnly(
            ops.AlterField(
                model_name="AuditRecord",
                name="at",
                field=fields.DatetimeField(auto_now=False, auto_now_add=False),
            )
        ),
        StateOnly(
            ops.AlterField(
                model_name="Decision",
                name="id_number",
                field=SealedField(null=True, context="decision.id_number"),
            )
        ),
        StateOnly(
            ops.AlterField(
                model_name="Decision",
                name="phone",
                field=SealedField(null=True, context="decision.phone"),
            )
        ),
        StateOnly(
            ops.AlterField(
                model_name="LiaisonAppointment",
                name="phone",
                field=SealedField(context="liaison_appointment.phone"),
            )
        ),
        StateOnly(
            ops.AlterModelOptions(
                name="LoginAttempt",
                options={
                    "table": "login_attempt",
                    "app": "shenguan",
                    "indexes": [
                        Index(fields=["username", "at"]),
                        Index(fields=["address", "at"]),
                        Index(fields=["at"]),
                    ],
                    "pk_attr": "id",
                    "table_description": "One sign-in attempt: which account name, from where, when, and how it ended.",
                },
            )
        ),
        StateOnly(
            ops.AlterField(
                model_name="LoginAttempt",
                name="outcome",
                field=fields.CharEnumField(
                    description="SUCCEEDED: SUCCEEDED\nFAILED: FAILED\nLOCKED: LOCKED", enum_type=Outcome, max_length=16
                ),
            )
        ),
    ]
