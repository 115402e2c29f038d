"""PIPL: ID numbers and phones are stored sealed (AES-256-GCM), ID numbers also as a keyed lookup hash.

The columns widen to hold a sealed value (PostgreSQL only: SQLite does not enforce VARCHAR lengths,
and altering the type there would rebuild the table). Rows already present are sealed here, under
the current data key, with their lookup hash and keyed content digest.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from models.crypto import SEALED_MAX_LENGTH

WIDENED = (("decision", "id_number"), ("decision", "phone"), ("liaison_appointment", "phone"))


async def widen_and_seal(apps: Any, schema_editor: Any) -> None:
    from models.data_keys import reseal_all

    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for table, column in WIDENED:
            await client.execute_script(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({SEALED_MAX_LENGTH})")
    await reseal_all(client, tables=("decision", "liaison_appointment"))


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0010_backflow")]

    initial = False

    operations = [
        ops.AddField(model_name="Decision", name="id_number_hash", field=fields.CharField(max_length=64, null=True)),
        ops.AddIndex(model_name="Decision", index=Index(fields=["id_number_hash"])),
        ops.RunPython(widen_and_seal),
    ]
