"""Set-wise inserts and transactions (models/db.py), on the real database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models.audit import AuditRecord, record_audit
from models.calendar import SHANGHAI
from models.db import MAX_PARAMETERS, insert_rows, stored, write_transaction
from models.decision import Decision, DecisionPush
from models.enums import DepartmentKind, PushStatus
from models.event import Event, EventRecipient
from tests import factories as f

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)


async def test_rows_get_their_ids_in_order_and_the_defaults_an_instance_would_have(db: str) -> None:
    rows: list[dict[str, Any]] = [
        {"kind": "PUSH_CREATED", "subject_type": "DecisionPush", "subject_id": n} for n in range(5)
    ]
    async with in_transaction():
        await insert_rows(Event, rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    stored_rows = await Event.all().order_by("id").values_list("id", "subject_id", "roles", "payload", "seq")
    assert stored_rows == [(r["id"], r["subject_id"], [], {}, None) for r in rows]
    assert rows[0]["created_at"] == rows[4]["created_at"]  # one creation time for the call
    assert (await Event.get(id=rows[0]["id"])).created_at == rows[0]["created_at"]
    assert rows[0]["roles"] is not rows[1]["roles"]  # a callable default is called per row


async def test_more_rows_than_one_statement_takes_keep_their_order(db: str) -> None:
    many = MAX_PARAMETERS // 2 + 10  # EventRecipient has two columns: beyond one SQLite statement
    event = {"kind": "PUSH_CREATED", "subject_type": "DecisionPush", "subject_id": 1}
    await insert_rows(Event, [event])
    rows = [{"event_id": event["id"], "department_id": n} for n in range(many)]
    await insert_rows(EventRecipient, rows)
    stored_rows = await EventRecipient.all().order_by("id").values_list("id", "department_id")
    assert stored_rows == [(r["id"], n) for n, r in enumerate(rows)]


async def test_values_are_sealed_and_normalised_as_an_instance_would_send_them(db: str) -> None:
    approval = await f.department(DepartmentKind.APPROVAL)
    decision = await f.decision(await f.user(approval), await f.item(await f.department()), now=NOW)
    [raw] = await Decision._meta.db.execute_query_dict("SELECT id_number, phone FROM decision")
    assert decision.id_number and decision.phone and not {decision.id_number, decision.phone} & set(raw.values())
    assert (await Decision.get(id=decision.id)).id_number == decision.id_number
    push = await DecisionPush.get(decision_id=decision.id)
    assert (push.status, push.pushed_at, push.claimed_at) == (PushStatus.PENDING, NOW, None)


async def test_a_row_breaking_a_unique_key_fails_the_whole_statement(db: str) -> None:
    first = {"kind": "X", "subject_type": "T", "subject_id": 1}
    await insert_rows(Event, [first])
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await insert_rows(Event, [{"kind": "X", "subject_type": "T", "subject_id": 2, "seq": None}])
            await insert_rows(EventRecipient, [{"event_id": first["id"], "department_id": 1}] * 2)
    assert await Event.all().count() == 1


async def test_a_stored_row_is_an_instance_saved_in_the_database(db: str) -> None:
    row = {"kind": "X", "subject_type": "T", "subject_id": 1}
    await insert_rows(Event, [row])
    event = stored(Event, row)
    event.subject_id = 2
    await event.save()  # an update of that row, not a second insert
    assert await Event.all().values_list("id", "subject_id") == [(row["id"], 2)]


async def test_a_joined_write_transaction_is_the_callers_and_rolls_back_with_it(db: str) -> None:
    with pytest.raises(RuntimeError):
        async with write_transaction() as outer:
            await record_audit("something", actor_id=None, department_id=None)
            async with write_transaction(join=True) as joined:
                assert joined is outer
            raise RuntimeError("the caller fails after its audit record")
    assert await AuditRecord.all().count() == 0
    async with write_transaction(join=True):  # outside any transaction: a transaction of its own
        await record_audit("something", actor_id=None, department_id=None)
    assert await AuditRecord.all().count() == 1
