"""The flows' personal data sealed at rest like the decisions': experts' and submitters' phones,
citizen ID numbers on supervision actions, inspection tasks and credit records; a credit record's
person key becomes the keyed lookup hash.

PostgreSQL columns are widened for the ciphertext (SQLite does not enforce VARCHAR lengths), rows
written before are sealed, and the model state records the sealed fields without rebuilding tables.
"""

from __future__ import annotations

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.crypto import SEALED_MAX_LENGTH, SealedField
from models.migration_ops import StateOnly

SEALED = {
    "pool_expert": ("Expert", "phone", False),
    "public_submission": ("PublicSubmission", "contact_phone", True),
    "supervision_action": ("SupervisionAction", "id_number", True),
    "inspection_task": ("InspectionTask", "id_number", True),
    "credit_record": ("CreditRecord", "id_number", True),
}


async def widen_and_seal(apps: Any, schema_editor: Any) -> None:
    from models.data_keys import reseal_all

    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for table, (_, column, _) in SEALED.items():
            await client.execute_script(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR({SEALED_MAX_LENGTH})")
    await reseal_all(client, tables=tuple(SEALED))


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0013_model_state_after_sealing")]

    initial = False

    operations = [
        ops.RunPython(widen_and_seal),
        *(
            StateOnly(
                ops.AlterField(
                    model_name=model,
                    name=column,
                    field=SealedField(f"{table}.{column}", null=True) if null else SealedField(f"{table}.{column}"),
                )
            )
            for table, (model, column, null) in SEALED.items()
        ),
    ]
