"""Seed the working-day calendar (2004–2026) from the chinese-calendar package (rule 7).

Only days and years not already present are added, so an administrator's entries are never overwritten.
"""

from __future__ import annotations

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from models.workdays import package_exception_days


async def seed(apps: Any, schema_editor: Any) -> None:
    day_model = apps.get_model("shenguan", "CalendarDay")
    year_model = apps.get_model("shenguan", "CalendarYear")
    state_model = apps.get_model("shenguan", "CalendarState")
    client = schema_editor.client
    exceptions, years = package_exception_days()
    known = set(await day_model.all().using_db(client).values_list("day", flat=True))
    rows = [
        day_model(day=e.day, is_workday=e.is_workday, name=e.name[:64], source="PACKAGE")
        for e in exceptions
        if e.day not in known
    ]
    await day_model.bulk_create(rows, batch_size=500, using_db=client)
    known_years = set(await year_model.all().using_db(client).values_list("year", flat=True))
    await year_model.bulk_create(
        [year_model(year=y, status="OFFICIAL", source="PACKAGE") for y in years if y not in known_years],
        using_db=client,
    )
    if not await state_model.filter(id=1).using_db(client).exists():
        await state_model.create(id=1, version=1, using_db=client)


class Migration(migrations.Migration):
    dependencies = [("shenguan", "0001_initial")]
    operations = [ops.RunPython(seed)]
