"""Experts' conflict identifiers (citizen ID numbers among them) sealed in rows written before they were."""

from __future__ import annotations

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops


async def seal_conflicts(apps: Any, schema_editor: Any) -> None:
    from models.data_keys import reseal_all

    await reseal_all(schema_editor.client, tables=("pool_expert conflicts",))


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0014_sealed_flow_personal_data")]

    initial = False

    operations = [ops.RunPython(seal_conflicts)]
