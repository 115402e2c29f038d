"""Art. 9: the audit trail becomes a hash chain (records already present are chained here, in id order),
and sign-in attempts are kept for the login abuse limits."""

from __future__ import annotations

from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.audit import GENESIS, chain_hash
from models.login_guard import Outcome

BATCH = 1000


async def chain_existing(apps: Any, schema_editor: Any) -> None:
    record = apps.get_model("shenguan", "AuditRecord")
    client = schema_editor.client
    prev, after = GENESIS, 0
    while True:
        rows = await record.filter(id__gt=after).using_db(client).order_by("id").limit(BATCH)
        if not rows:
            return
        for row in rows:
            digest = chain_hash(
                at=row.at,
                actor_id=row.actor_id,
                department_id=row.department_id,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                address=row.address,
                detail=row.detail,
                prev_hash=prev,
            )
            await record.filter(id=row.id).using_db(client).update(prev_hash=prev, row_hash=digest)
            prev = digest
        after = rows[-1].id


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0011_sealed_personal_data")]

    initial = False

    operations = [
        ops.AddField(
            model_name="AuditRecord", name="prev_hash", field=fields.CharField(default="", db_default="", max_length=64)
        ),
        ops.AddField(
            model_name="AuditRecord", name="row_hash", field=fields.CharField(default="", db_default="", max_length=64)
        ),
        ops.AddIndex(model_name="AuditRecord", index=Index(fields=["at"])),
        ops.CreateModel(
            name="LoginAttempt",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("username", fields.CharField(max_length=64)),
                ("address", fields.CharField(default="", max_length=64)),
                ("outcome", fields.CharEnumField(description="", enum_type=Outcome, max_length=16)),
            ],
            options={
                "table": "login_attempt",
                "app": "shenguan",
                "indexes": [
                    Index(fields=["username", "at"]),
                    Index(fields=["address", "at"]),
                    Index(fields=["at"]),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.RunPython(chain_existing),
    ]
