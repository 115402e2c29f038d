"""The migrations on disk describe the models exactly: `makemigrations` would write nothing."""

from __future__ import annotations

import importlib

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from models.audit import CHAIN_LOCK
from models.db import orm_config
from models.event import SEQUENCER_LOCK_KEY


async def test_the_models_need_no_new_migration() -> None:
    config = orm_config("sqlite://:memory:")
    await Tortoise.init(config=config)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        pending = {w.name: [type(op).__name__ for op in w.operations] for w in writers}
    finally:
        await Tortoise.close_connections()
    assert pending == {}, "models changed without a migration: run `tortoise -c models.db.TORTOISE_ORM makemigrations`"


def test_the_database_functions_take_the_locks_the_code_names() -> None:
    """Migration 0016 wrote the sequencer's and the audit chain's lock keys into PostgreSQL functions."""
    functions = importlib.import_module("models.migrations.0016_sequencer_and_audit_functions")

    assert functions.SEQUENCER_LOCK_KEY == SEQUENCER_LOCK_KEY
    assert functions.CHAIN_LOCK == CHAIN_LOCK
    assert f"pg_advisory_xact_lock({SEQUENCER_LOCK_KEY})" in functions.SEQUENCE_EVENTS
    assert f"pg_advisory_xact_lock({CHAIN_LOCK})" in functions.AUDIT_TAIL
