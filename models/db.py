"""Database configuration, migrations and the start-up check that refuses an unmigrated database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.api import migrate as apply_migrations
from tortoise.migrations.executor import MigrationExecutor
from tortoise.models import Model
from tortoise.transactions import in_transaction

APP = "shenguan"
MODEL_MODULES = [
    "models.account",
    "models.catalogue",
    "models.calendar",
    "models.decision",
    "models.event",
    "models.audit",
    "models.obligation",
    "models.report",
    "models.inquiry",
    "models.meeting",
    "models.public",
    "models.pool",
    "models.expert_draw",
    "models.inspection",
    "models.commitment",
    "models.credit",
    "models.files",
    "models.backflow",
    "models.notice",
    "models.login_guard",
]


class DatabaseNotMigrated(Exception):
    """The database lacks migrations this code needs; run the ``migrate`` command first."""


def with_sqlite_pragmas(url: str) -> str:
    """SQLite: wait for a busy file instead of failing at once (API and worker share it)."""
    if url.startswith("sqlite://") and "busy_timeout" not in url:
        return url + ("&" if "?" in url else "?") + "busy_timeout=10000&journal_mode=WAL"
    return url


def orm_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": with_sqlite_pragmas(database_url)},
        "apps": {APP: {"models": MODEL_MODULES, "default_connection": "default", "migrations": "models.migrations"}},
        "use_tz": True,
        "timezone": "Asia/Shanghai",
    }


async def pending_migrations(config: dict[str, Any]) -> list[str]:
    """Names of migrations on disk that the connected database has not applied."""
    executor = MigrationExecutor(connections.get("default"), config["apps"])
    steps = await executor.plan()
    return [str(getattr(step, "migration", step)) for step in steps]


async def open_database(database_url: str, *, check_migrated: bool = True) -> None:
    """Connect the ORM; refuse to go on when migrations are missing."""
    config = orm_config(database_url)
    await Tortoise.init(config=config, _enable_global_fallback=True)
    if check_migrated:
        missing = await pending_migrations(config)
        if missing:
            await Tortoise.close_connections()
            raise DatabaseNotMigrated(f"数据库尚未迁移（缺少 {len(missing)} 个迁移）：请先运行 `shenguan migrate`")


async def migrate_database(database_url: str) -> None:
    """Apply every pending migration (creating the PostgreSQL database is the operator's job)."""
    await apply_migrations(config=orm_config(database_url), app_labels=None, target=None)


async def close_database() -> None:
    await Tortoise.close_connections()


# For the `tortoise` command line (makemigrations); the app itself calls orm_config(settings).
TORTOISE_ORM = orm_config("sqlite://:memory:")


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction that will write: on SQLite it takes the write lock first.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another process committed in between; one that starts by writing waits instead.
    """
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "sqlite":
            await conn.execute_query("UPDATE calendar_state SET version = version WHERE 0")
        yield conn


def parameter(conn: BaseDBAsyncClient, n: int) -> str:
    """The n-th (1-based) query parameter in the connection's dialect."""
    return "?" if conn.capabilities.dialect == "sqlite" else f"${n}"


# PostgreSQL takes at most 32,767 parameters per statement, SQLite (≥ 3.32) 32,766.
MAX_PARAMETERS = 32_000


async def insert_rows(rows: Sequence[Model], *, returning_ids: bool = True) -> None:
    """Insert new rows of one model, many per statement; with `returning_ids`, each row gets its id.

    Model.bulk_create cannot stand in: on PostgreSQL it runs executemany in a savepoint and learns
    no ids, and a pushed decision needs its pushes' ids for their events. The ids come back through
    RETURNING; SQLite returns them in no promised order, but both databases hand them out in the
    order of the VALUES rows, so the sorted ids are the rows' ids in order. Values go through each
    field's own conversion (sealing, JSON, timestamps), as Model.save would send them.
    """
    if not rows:
        return
    meta = type(rows[0])._meta
    conn = meta.db
    fields_ = [meta.fields_map[name] for name in meta.fields_db_projection if not meta.fields_map[name].generated]
    names = ", ".join(f'"{meta.fields_db_projection[field.model_field_name]}"' for field in fields_)
    head = f'INSERT INTO "{meta.db_table}" ({names}) VALUES '
    returning = f' RETURNING "{meta.db_pk_column}"' if returning_ids else ""
    per_statement = MAX_PARAMETERS // len(fields_)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values: list[Any] = []
        tuples: list[str] = []
        for row in chunk:
            first = len(values) + 1
            values += [field.to_db_value(getattr(row, field.model_field_name), row) for field in fields_]
            tuples.append("(" + ", ".join(parameter(conn, first + i) for i in range(len(fields_))) + ")")
        sql = head + ", ".join(tuples) + returning
        if not returning_ids:
            await conn.execute_query(sql, values)
            continue
        # execute_query_dict: the asyncpg client's execute_query drops the rows of an INSERT.
        ids = sorted(r[meta.db_pk_column] for r in await conn.execute_query_dict(sql, values))
        for row, pk in zip(chunk, ids, strict=True):
            row.pk = pk
            row._saved_in_db = True
