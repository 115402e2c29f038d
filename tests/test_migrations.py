"""The migrations on disk describe the models exactly: `makemigrations` would write nothing."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from models.db import orm_config


async def test_the_models_need_no_new_migration() -> None:
    config = orm_config("sqlite://:memory:")
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        pending = {w.name: [type(op).__name__ for op in w.operations] for w in writers}
    finally:
        await Tortoise.close_connections()
    assert pending == {}, "models changed without a migration: run `tortoise -c models.db.TORTOISE_ORM makemigrations`"
