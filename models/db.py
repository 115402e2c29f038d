"""Database configuration, migrations and the start-up check that refuses an unmigrated database."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg
from tortoise import Tortoise, connections, timezone
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.fields import Field
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


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no type hints
    """A PostgreSQL connection that goes back to the pool without asyncpg's session reset query.

    The reset (unlock advisory locks, close cursors, unlisten, reset settings) is one more round trip
    each time a connection returns to the pool, that is after every statement run outside a
    transaction. The platform leaves no such session state behind: its advisory locks end with their
    transaction, and it opens no cursor outside one, listens to nothing and sets nothing. A
    transaction left open is still rolled back on release (Connection.reset does that apart from
    the query).
    """

    def get_reset_query(self) -> str:
        return ""


def connection_config(database_url: str) -> str | dict[str, Any]:
    """The default connection: SQLite with its pragmas; PostgreSQL with pooled connections as above."""
    if urlsplit(database_url).scheme not in ("postgres", "postgresql", "asyncpg"):
        return with_sqlite_pragmas(database_url)
    config = expand_db_url(database_url)
    config["credentials"]["connection_class"] = PooledConnection
    return config


def orm_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(database_url)},
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
async def write_transaction(*, join: bool = False) -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction that will write: on SQLite it takes the write lock first.

    A deferred SQLite transaction that reads and then writes fails at once with "database is
    locked" when another process committed in between; one that starts by writing waits instead.

    With `join`, inside a transaction already open this is that transaction, not a savepoint in
    it: for a step that cannot fail alone, that saves the two round trips of the savepoint.
    """
    current = connections.get("default")
    if join and isinstance(current, TransactionalDBClient):
        yield current
        return
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "sqlite":
            await conn.execute_query("UPDATE calendar_state SET version = version WHERE 0")
        yield conn


def parameter(conn: BaseDBAsyncClient, n: int) -> str:
    """The n-th (1-based) query parameter in the connection's dialect."""
    return "?" if conn.capabilities.dialect == "sqlite" else f"${n}"


# PostgreSQL takes at most 32,767 parameters per statement, SQLite (≥ 3.32) 32,766.
MAX_PARAMETERS = 32_000
M = TypeVar("M", bound=Model)


async def insert_rows(model: type[Model], rows: Sequence[dict[str, Any]], *, returning_ids: bool = True) -> None:
    """Insert new rows of one model set-wise; each row is a dict of field values.

    Each dict is completed in place as stored: the model's defaults for the fields it leaves out
    (one creation time for the whole call) and, with `returning_ids`, its new primary key. Values go
    through each field's own conversion (sealing, JSON, time zones), as Model.save would send them.

    Model.bulk_create cannot stand in: on PostgreSQL it runs executemany in a savepoint and learns
    no ids, and a push's id goes into its event. Nor are model instances made per row: building
    them cost more than writing the rows. PostgreSQL gets one array per column (`unnest`): one
    statement whatever the number of rows, prepared once per connection. SQLite gets multi-row
    VALUES. The ids come back through RETURNING in no promised order, but both databases hand them
    out in the order the rows are inserted (PostgreSQL's in the arrays' order, which the statement
    makes explicit), so the sorted ids are the rows' ids in order.

    Outside a transaction it opens one: a call split into several statements is written whole or
    not at all.
    """
    if not rows:
        return
    async with write_transaction(join=True) as conn:
        await _insert(conn, model, rows, returning_ids)


async def _insert(
    conn: BaseDBAsyncClient, model: type[Model], rows: Sequence[dict[str, Any]], returning_ids: bool
) -> None:
    meta = model._meta
    fields_ = _written_fields(model)
    names = [field.model_field_name for field in fields_]
    converters = _converters(model)
    _fill_defaults(model, rows)
    columns = ", ".join(f'"{meta.fields_db_projection[field.model_field_name]}"' for field in fields_)
    head = f'INSERT INTO "{meta.db_table}" ({columns}) '
    returning = f' RETURNING "{meta.db_pk_column}"' if returning_ids else ""
    postgres = conn.capabilities.dialect == "postgres"
    per_statement = len(rows) if postgres else MAX_PARAMETERS // len(fields_)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        if postgres:
            sql = head + _unnest_sql(model) + returning
            values: list[Any] = [
                [convert(row[name]) for row in chunk] for convert, name in zip(converters, names, strict=True)
            ]
        else:
            sql = head + _values_sql(len(fields_), len(chunk)) + returning
            values = [convert(row[name]) for row in chunk for convert, name in zip(converters, names, strict=True)]
        if not returning_ids:
            await conn.execute_query(sql, values)
            continue
        # execute_query_dict: the asyncpg client's execute_query drops the rows of an INSERT.
        returned = await conn.execute_query_dict(sql, values)
        for row, pk in zip(chunk, sorted(r[meta.db_pk_column] for r in returned), strict=True):
            row[meta.pk_attr] = pk


def db_value(model: type[Model], name: str, value: Any) -> Any:
    """A field's value as the database receives it from an instance of the model."""
    return _converter(model._meta.fields_map[name], model)(value)


def _converter(field: Field[Any], model: type[Model]) -> Callable[[Any], Any]:
    """A field's value first as an instance holds it (datetimes in the configured time zone: SQLite
    compares them as text), then as the database takes it (sealed, JSON, ...). NULL needs neither (the
    database refuses it where the column does not take it).

    Where the field's to_python_value is the base one, it only coerces to the field's type, which its
    to_db_value does again: that step is left out.
    """
    to_db = field.to_db_value
    if type(field).to_python_value is Field.to_python_value:
        return lambda value: None if value is None else to_db(value, model)
    to_python = field.to_python_value
    return lambda value: None if value is None else to_db(to_python(value), model)


def columns(model: type[Model]) -> tuple[str, ...]:
    """A model's columns in the order from_row takes their values (known once the ORM is initialised)."""
    return tuple(model._meta.fields_db_projection.values())


def select_list(model: type[Model], alias: str) -> str:
    """`alias."column", ...` for every column of the model, in columns() order: for hand-written joins."""
    return ", ".join(f'{alias}."{c}"' for c in columns(model))


def from_row(model: type[M], values: Sequence[Any]) -> M:
    """A model from its columns' values in columns() order, through the ORM's own row constructor
    (the conversions of any read: unsealing, JSON, time zones)."""
    return model._init_from_db(**dict(zip(columns(model), values, strict=True)))


def row_values(row: Any) -> tuple[Any, ...]:
    """A row of execute_query as a tuple: asyncpg gives records, SQLite dicts."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


@functools.cache
def _converters(model: type[Model]) -> list[Callable[[Any], Any]]:
    """_converter for each written field, bound once: a bulk insert converts every value of every row."""
    return [_converter(field, model) for field in _written_fields(model)]


def stored(model: type[M], row: dict[str, Any]) -> M:
    """The instance of a row insert_rows has written."""
    instance = model(**row)
    instance._saved_in_db = True
    return instance


def _fill_defaults(model: type[Model], rows: Sequence[dict[str, Any]]) -> None:
    """Give each row the model's default for each field it leaves out, as a new instance would get.

    Model.__init__'s rules without building an instance; creation times are one moment per call.
    """
    now = timezone.localtime()
    for field in _written_fields(model):
        name, default = field.model_field_name, field.default
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            default = field.to_python_value(now)
        for row in rows:
            if name not in row:
                row[name] = default() if callable(default) else default


@functools.lru_cache(maxsize=256)
def _values_sql(columns: int, rows: int) -> str:
    """SQLite: the VALUES list of a multi-row insert, `rows` tuples of `columns` parameters each."""
    return "VALUES " + ", ".join(["(" + ", ".join("?" * columns) + ")"] * rows)


_SIZE = re.compile(r"\(\d+\)")


@functools.cache
def _unnest_sql(model: type[Model]) -> str:
    """PostgreSQL: the rows as one array parameter per column, each cast to its column's type.

    Unsized (VARCHAR, not VARCHAR(64)): an explicit cast to a sized type would cut an overlong
    value silently, where the insert's own assignment refuses it.
    """
    arrays = []
    for n, field in enumerate(_written_fields(model), 1):
        types = field.get_db_field_types() or {}
        arrays.append(f"${n}::{_SIZE.sub('', types.get('postgres', types['']))}[]")
    names = ", ".join(f"c{n}" for n in range(1, len(arrays) + 1))
    return (
        f"SELECT {names} FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS given({names}, position) ORDER BY position"
    )


@functools.cache
def _written_fields(model: type[Model]) -> list[Field[Any]]:
    """The fields an insert sends, in one fixed order (all but the generated key)."""
    meta = model._meta
    return [meta.fields_map[name] for name in meta.fields_db_projection if not meta.fields_map[name].generated]
