"""Re-sealing personal data under the current data key: key rotation and the first conversion of plain rows.

Rows are read and written with plain SQL (not the models), so the same code serves the migration that
first seals existing rows and the ``rotate-data-key`` command. Each batch re-seals every sealed column
of a row, recomputes its lookup hash and its content digest (both keyed), and commits; a rotation
stopped half-way is simply run again. Until it finishes, old keys keep opening the rows not reached.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tqdm import tqdm

from models.credit import person_key
from models.crypto import PREFIX, key_id_of, keyring, open_sealed, seal
from models.db import write_transaction
from models.decision import id_number_lookup
from models.enums import Channel, CounterpartyKind
from models.issuance import CounterpartyInput, DecisionInput, fingerprint
from models.pool import CONFLICTS_CONTEXT

BATCH_SIZE = 500
# Every sealed column, as table -> columns; the associated data of each is "table.column".
SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "decision": ("id_number", "phone"),
    "liaison_appointment": ("phone",),
    "pool_expert": ("phone",),
    "public_submission": ("contact_phone",),
    "supervision_action": ("id_number",),
    "inspection_task": ("id_number",),
    "credit_record": ("id_number",),
}
_DECISION_READ = (
    "id, item_id, content, approved_on, valid_from, valid_until, channel, counterparty_name, "
    "counterparty_kind, id_number, credit_code, contact_name, phone, address, commitment_based"
)


@dataclass
class ResealReport:
    rows: dict[str, int] = field(default_factory=dict)
    key_id: str = ""

    def summary(self) -> str:
        counts = "，".join(f"{table} {n} 行" for table, n in self.rows.items())
        return f"已用数据密钥 {self.key_id} 重新加密：{counts}"


def _p(conn: BaseDBAsyncClient, n: int) -> str:
    """The n-th (1-based) query parameter in the connection's dialect."""
    return "?" if conn.capabilities.dialect == "sqlite" else f"${n}"


def _plain(value: Any, context: str) -> str | None:
    if value is None:
        return None
    text = str(value)
    return open_sealed(text, context=context) if text.startswith(PREFIX) else text


def _day(value: Any) -> date | None:
    """A DATE as the driver returns it (a date on PostgreSQL, ISO text on SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _decision_input(row: Any, id_number: str | None, phone: str | None) -> DecisionInput:
    """The checked input a stored decision was written from, for its content digest."""
    approved_on = _day(row["approved_on"])
    assert approved_on is not None
    return DecisionInput(
        item_id=int(row["item_id"]),
        document_number="",
        content=row["content"],
        approved_on=approved_on,
        valid_from=_day(row["valid_from"]),
        valid_until=_day(row["valid_until"]),
        channel=Channel(row["channel"]),
        counterparty=CounterpartyInput(
            name=row["counterparty_name"],
            kind=CounterpartyKind(row["counterparty_kind"]),
            id_number=id_number,
            credit_code=row["credit_code"],
            contact_name=row["contact_name"],
            phone=phone,
            address=row["address"],
        ),
        commitment_based=bool(row["commitment_based"]),
    )


async def _decisions_batch(conn: BaseDBAsyncClient, after: int, size: int) -> tuple[int, int]:
    sql = f"SELECT {_DECISION_READ} FROM decision WHERE id > {_p(conn, 1)} ORDER BY id LIMIT {int(size)}"
    _, rows = await conn.execute_query(sql, [after])
    update = (
        f"UPDATE decision SET id_number = {_p(conn, 1)}, phone = {_p(conn, 2)}, id_number_hash = {_p(conn, 3)}, "
        f"content_hash = {_p(conn, 4)} WHERE id = {_p(conn, 5)}"
    )
    for row in rows:
        id_number = _plain(row["id_number"], "decision.id_number")
        phone = _plain(row["phone"], "decision.phone")
        values = [
            seal(id_number, context="decision.id_number") if id_number is not None else None,
            seal(phone, context="decision.phone") if phone is not None else None,
            id_number_lookup(id_number) if id_number is not None else None,
            fingerprint(_decision_input(row, id_number, phone)),
            row["id"],
        ]
        await conn.execute_query(update, values)
    return len(rows), (int(rows[-1]["id"]) if rows else after)


async def _liaisons_batch(conn: BaseDBAsyncClient, after: int, size: int) -> tuple[int, int]:
    sql = f"SELECT id, phone FROM liaison_appointment WHERE id > {_p(conn, 1)} ORDER BY id LIMIT {int(size)}"
    _, rows = await conn.execute_query(sql, [after])
    update = f"UPDATE liaison_appointment SET phone = {_p(conn, 1)} WHERE id = {_p(conn, 2)}"
    for row in rows:
        phone = _plain(row["phone"], "liaison_appointment.phone")
        sealed = seal(phone, context="liaison_appointment.phone") if phone is not None else None
        await conn.execute_query(update, [sealed, row["id"]])
    return len(rows), (int(rows[-1]["id"]) if rows else after)


Batch = Callable[[BaseDBAsyncClient, int, int], Awaitable[tuple[int, int]]]


def _columns_batch(table: str, columns: tuple[str, ...]) -> Batch:
    """Re-seal a table's sealed columns; a credit record's person key is re-keyed with them."""

    async def batch(conn: BaseDBAsyncClient, after: int, size: int) -> tuple[int, int]:
        keyed = table == "credit_record"
        read = ", ".join(("id", *columns, *(("lookup_key",) if keyed else ())))
        sql = f"SELECT {read} FROM {table} WHERE id > {_p(conn, 1)} ORDER BY id LIMIT {int(size)}"
        _, rows = await conn.execute_query(sql, [after])
        sets = [f"{c} = {_p(conn, i)}" for i, c in enumerate(columns, 1)]
        if keyed:
            sets.append(f"lookup_key = {_p(conn, len(columns) + 1)}")
        update = f"UPDATE {table} SET {', '.join(sets)} WHERE id = {_p(conn, len(sets) + 1)}"
        for row in rows:
            plain = [_plain(row[c], f"{table}.{c}") for c in columns]
            values: list[Any] = [
                seal(v, context=f"{table}.{c}") if v is not None else None for v, c in zip(plain, columns, strict=True)
            ]
            if keyed:
                id_number = plain[0]
                values.append(person_key(id_number) if id_number else row["lookup_key"])
            await conn.execute_query(update, [*values, row["id"]])
        return len(rows), (int(rows[-1]["id"]) if rows else after)

    return batch


async def _conflict_lists_batch(conn: BaseDBAsyncClient, after: int, size: int) -> tuple[int, int]:
    """An expert's conflict identifiers: a JSON list of sealed values, each re-sealed."""
    sql = f"SELECT id, conflicts FROM pool_expert WHERE id > {_p(conn, 1)} ORDER BY id LIMIT {int(size)}"
    _, rows = await conn.execute_query(sql, [after])
    update = f"UPDATE pool_expert SET conflicts = {_p(conn, 1)} WHERE id = {_p(conn, 2)}"
    for row in rows:
        raw = row["conflicts"]
        values = json.loads(raw) if isinstance(raw, str | bytes) else raw
        plain = [_plain(v, CONFLICTS_CONTEXT) for v in values]
        sealed = [seal(v, context=CONFLICTS_CONTEXT) for v in plain if v is not None]
        await conn.execute_query(update, [json.dumps(sealed), row["id"]])
    return len(rows), (int(rows[-1]["id"]) if rows else after)


_BATCHES: dict[str, Batch] = {
    "decision": _decisions_batch,
    "liaison_appointment": _liaisons_batch,
    **{
        table: _columns_batch(table, columns)
        for table, columns in SEALED_COLUMNS.items()
        if table not in ("decision", "liaison_appointment")
    },
    "pool_expert conflicts": _conflict_lists_batch,
}


async def _count(conn: BaseDBAsyncClient, table: str) -> int:
    _, rows = await conn.execute_query(f"SELECT COUNT(*) AS n FROM {table}")
    return int(rows[0]["n"])


async def reseal_all(
    client: BaseDBAsyncClient | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    tables: tuple[str, ...] | None = None,
) -> ResealReport:
    """Re-seal every row's personal data under the current key, batch by batch.

    Without `client` each batch is its own write transaction (the command); with one, everything
    runs on it (the migration, inside its own transaction).
    """
    report = ResealReport()
    for table, batch in _BATCHES.items():
        if tables is not None and table not in tables:
            continue
        total = await _count(client or connections.get("default"), table.split()[0])
        bar = tqdm(total=total, desc=table, unit="行", file=sys.stderr, disable=not progress, leave=False)
        done, after = 0, 0
        while True:
            if client is not None:
                n, after = await batch(client, after, batch_size)
            else:
                async with write_transaction() as conn:
                    n, after = await batch(conn, after, batch_size)
            done += n
            bar.update(n)
            if n < batch_size:
                break
        bar.close()
        report.rows[table] = done
    if any(report.rows.values()):  # an empty database needs no keyring (a first migration)
        report.key_id = keyring().current.kid
    return report


async def rows_not_under_current_key(client: BaseDBAsyncClient | None = None) -> int:
    """Rows with a column sealed under another key (or still plain): zero once a rotation is complete."""
    conn = client or connections.get("default")
    current = f"{PREFIX}{keyring().current.kid}:%"
    stale = 0
    for table, columns in SEALED_COLUMNS.items():
        where = " OR ".join(f"({c} IS NOT NULL AND {c} NOT LIKE {_p(conn, i)})" for i, c in enumerate(columns, 1))
        _, rows = await conn.execute_query(f"SELECT COUNT(*) AS n FROM {table} WHERE {where}", [current] * len(columns))
        stale += int(rows[0]["n"])
    return stale + sum(
        1 for values in await _conflict_lists(conn) if any(not v.startswith(current[:-1]) for v in values)
    )


async def _conflict_lists(conn: BaseDBAsyncClient) -> list[list[str]]:
    """Every expert's sealed conflict list (the pool is small: read whole)."""
    _, rows = await conn.execute_query("SELECT conflicts FROM pool_expert")
    lists = []
    for row in rows:
        raw = row["conflicts"]
        values = json.loads(raw) if isinstance(raw, str | bytes) else raw
        lists.append([str(v) for v in values or []])
    return lists


async def unknown_key_ids() -> set[str]:
    """Key ids of the newest sealed values that the configured keyring cannot open (start-up check).

    A process started with the wrong SHENGUAN_DATA_KEY would otherwise fail on every decision it reads.
    """
    conn = connections.get("default")
    ring = keyring()
    unknown: set[str] = set()
    for table, columns in SEALED_COLUMNS.items():
        for column in columns:
            _, rows = await conn.execute_query(
                f"SELECT {column} AS v FROM {table} WHERE {column} LIKE '{PREFIX}%' ORDER BY id DESC LIMIT 1"
            )
            kid = key_id_of(str(rows[0]["v"])) if rows else None
            if kid is not None and ring.by_kid(kid) is None:
                unknown.add(kid)
    for values in await _conflict_lists(conn):
        kids = {key_id_of(v) for v in values if v.startswith(PREFIX)}
        unknown.update(k for k in kids if k is not None and ring.by_kid(k) is None)
    return unknown
