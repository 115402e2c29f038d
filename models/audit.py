"""The audit trail (Art. 9): append-only record of who did what to which record, when, from where.

The records form a hash chain: each stores the previous record's hash and its own, a SHA-256 over a
canonical serialisation of its fields and that previous hash. Editing, deleting or inserting a row
breaks the chain at that row, which ``verify_chain`` (the ``verify-audit`` command) reports.
Appends are serialised so that the chain stays a line: a PostgreSQL advisory lock held to the end
of the writing transaction, and on SQLite the database's single writer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.account import User
from models.db import insert_rows, stored, write_transaction
from models.enums import Role
from models.errors import Forbidden

GENESIS = ""
# pg_advisory_xact_lock key of the audit chain (any constant the application uses for nothing else).
CHAIN_LOCK = 0x5347_4155  # "SGAU": on PostgreSQL taken by shenguan_audit_tail() (migration 0016)
VERIFY_BATCH = 1000


class AuditRecord(Model):
    """One audited action. Never updated or deleted by the application (no mutation reaches it)."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor_id = fields.IntField(null=True)
    department_id = fields.IntField(null=True)
    action = fields.CharField(max_length=64)
    object_type = fields.CharField(max_length=32, default="")
    object_id = fields.CharField(max_length=64, default="")
    address = fields.CharField(max_length=64, default="")
    detail: dict[str, Any] = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64, default="", db_default="")
    row_hash = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "audit_record"
        indexes = (("object_type", "object_id"), ("actor_id", "at"), ("at",))


def _moment(at: datetime) -> str:
    """The instant in UTC to the microsecond: the same text whichever time zone the driver returns."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(
    *,
    at: datetime,
    actor_id: int | None,
    department_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    address: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of a record's fields and the previous record's hash."""
    canonical = json.dumps(
        {
            "at": _moment(at),
            "actor": actor_id,
            "department": department_id,
            "action": action,
            "objectType": object_type,
            "objectId": object_id,
            "address": address,
            "detail": detail,
            "prev": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_of(record: AuditRecord) -> str:
    """What a stored record's row_hash must be, given its fields and its prev_hash."""
    return chain_hash(
        at=record.at,
        actor_id=record.actor_id,
        department_id=record.department_id,
        action=record.action,
        object_type=record.object_type,
        object_id=record.object_id,
        address=record.address,
        detail=record.detail,
        prev_hash=record.prev_hash,
    )


async def record_audit(
    action: str,
    *,
    actor_id: int | None,
    department_id: int | None,
    object_type: str = "",
    object_id: str | int = "",
    address: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one audit record to the chain, in the caller's transaction (or its own).

    A record fails only with the caller's transaction, so it joins that one (no savepoint).
    """
    async with write_transaction(join=True) as conn:
        if conn.capabilities.dialect == "postgres":  # the chain's lock, then its tail: one round trip
            _, last = await conn.execute_query("SELECT shenguan_audit_tail() AS row_hash")
        else:  # under the database's write lock, taken by write_transaction
            _, last = await conn.execute_query("SELECT row_hash FROM audit_record ORDER BY id DESC LIMIT 1")
        # Microseconds survive both databases; the stored instant is the hashed one.
        row: dict[str, Any] = {
            "at": datetime.now(UTC),
            "action": action,
            "actor_id": actor_id,
            "department_id": department_id,
            "object_type": object_type,
            "object_id": str(object_id)[:64],
            "address": address[:64],
            "detail": detail or {},
            "prev_hash": GENESIS if not last or last[0]["row_hash"] is None else last[0]["row_hash"],
        }
        row["row_hash"] = chain_hash(**row)
        await insert_rows(AuditRecord, [row])
        return stored(AuditRecord, row)


@dataclass(frozen=True)
class ChainBreak:
    record_id: int
    reason: str


@dataclass
class ChainReport:
    checked: int = 0
    broken: ChainBreak | None = None
    last_hash: str = GENESIS  # of the newest verified record: kept elsewhere, it anchors the chain

    @property
    def intact(self) -> bool:
        return self.broken is None


async def _batches(size: int) -> AsyncIterator[list[AuditRecord]]:
    after = 0
    while True:
        rows = await AuditRecord.filter(id__gt=after).order_by("id").limit(size)
        if not rows:
            return
        yield rows
        after = rows[-1].id


async def verify_chain(
    *, batch_size: int = VERIFY_BATCH, on_batch: Callable[[int], object] | None = None
) -> ChainReport:
    """Walk the chain in id order; the first record whose links or contents do not match is reported.

    A record edited in place no longer matches its own hash; a record deleted or inserted leaves
    the next record pointing at a hash that is not its predecessor's.
    """
    report = ChainReport()
    expected_prev = GENESIS
    async for rows in _batches(batch_size):
        for row in rows:
            if row.prev_hash != expected_prev:
                report.broken = ChainBreak(row.id, "前一条记录缺失、被插入或被修改（链接不符）")
                return report
            if row.row_hash != hash_of(row):
                report.broken = ChainBreak(row.id, "记录内容被修改（哈希不符）")
                return report
            expected_prev = report.last_hash = row.row_hash
            report.checked += 1
        if on_batch is not None:
            on_batch(len(rows))
    return report


def audit_records(
    viewer: User,
    *,
    actor_id: int | None = None,
    object_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditRecord]:
    """Art. 9: the audit trail, for auditors only (not even an admin reads or edits it otherwise)."""
    if not viewer.has_role(Role.AUDITOR):
        raise Forbidden("只有审计员可以查看审计记录", field=None)
    query = AuditRecord.all()
    if actor_id is not None:
        query = query.filter(actor_id=actor_id)
    if object_type:
        query = query.filter(object_type=object_type)
    if since is not None:
        query = query.filter(at__gte=since)
    if until is not None:
        query = query.filter(at__lt=until)
    return query
