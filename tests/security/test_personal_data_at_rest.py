"""PIPL: ID numbers and phones are sealed in the database, found by keyed hash, re-sealed by rotation."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import connections

from models import crypto
from models.account import LiaisonAppointment, appoint_liaison
from models.data_keys import reseal_all, rows_not_under_current_key
from models.decision import Decision
from models.enums import DepartmentKind, Role
from models.issuance import DecisionInput, issue_decision
from models.personal_data import find_by_id_number, reveal_counterparty
from tests import factories as f
from tests.conftest import DATA_KEY
from tests.security.conftest import NEW_KEY

NOW = f.at(2026, 3, 2)


async def raw(sql: str) -> list[Any]:
    _, rows = await connections.get("default").execute_query(sql)
    return list(rows)


async def stored(decision_id: int) -> Any:
    return (await raw(f"SELECT id_number, phone, id_number_hash, content_hash FROM decision WHERE id = {decision_id}"))[
        0
    ]


async def world() -> dict[str, Any]:
    issuer = await f.department(DepartmentKind.APPROVAL)
    market = await f.department()
    other = await f.department()
    item = await f.item(market)
    return {
        "issuer": await f.user(issuer, Role.OFFICER),
        "market": await f.user(market, Role.OFFICER),
        "other": await f.user(other, Role.OFFICER),
        "admin": await f.user(other, Role.ADMIN),
        "item": item,
    }


def retry_of(decision: Decision) -> DecisionInput:
    """The input that issued `decision` (factories.decision), to send again."""
    return DecisionInput(
        item_id=decision.item_id,
        document_number=decision.document_number,
        content=decision.content,
        approved_on=decision.approved_on,
        counterparty=f.person(1),
        valid_from=decision.valid_from,
        valid_until=decision.valid_until,
    )


async def test_id_number_and_phone_are_sealed_at_rest_and_read_back_in_full(db: str) -> None:
    w = await world()
    decision = await f.decision(w["issuer"], w["item"], now=NOW)
    plain_id, plain_phone = f.person(1).id_number, f.person(1).phone
    assert plain_id is not None and plain_phone is not None
    row = await stored(decision.id)
    assert row["id_number"].startswith("sg1:") and plain_id not in row["id_number"]
    assert row["phone"].startswith("sg1:") and plain_phone not in row["phone"]
    assert row["id_number_hash"] == crypto.lookup_hash(plain_id)
    again = await Decision.get(id=decision.id)
    assert (again.id_number, again.phone) == (plain_id, plain_phone)
    shown = await reveal_counterparty(w["issuer"], decision.id, address="10.0.0.1")
    assert (shown.id_number, shown.phone) == (plain_id, plain_phone)


async def test_a_liaison_phone_is_sealed_at_rest(db: str) -> None:
    w = await world()
    term = await appoint_liaison(
        w["admin"], department_id=w["market"].department_id, user_id=w["market"].id, title="科长",
        phone="0537-2345678", now=NOW,
    )  # fmt: skip
    (row,) = await raw(f"SELECT phone FROM liaison_appointment WHERE id = {term.id}")
    assert row["phone"].startswith("sg1:") and "2345678" not in row["phone"]
    assert (await LiaisonAppointment.get(id=term.id)).phone == "0537-2345678"


async def test_find_by_id_number_matches_exactly_and_only_what_the_viewer_may_see(db: str) -> None:
    w = await world()
    first = await f.decision(w["issuer"], w["item"], now=NOW, seq=1)
    second = await f.decision(w["issuer"], w["item"], now=NOW, seq=1)
    await f.decision(w["issuer"], w["item"], now=NOW, seq=2)
    number = f.person(1).id_number
    assert number is not None
    assert [d.id for d in await find_by_id_number(w["issuer"], number).order_by("id")] == [first.id, second.id]
    assert await find_by_id_number(w["market"], number.lower()).count() == 2  # normalised: lower-case x
    assert await find_by_id_number(w["other"], number).count() == 0  # not this department's decisions
    assert await find_by_id_number(w["issuer"], "110101199003070000").count() == 0


async def test_a_sealed_value_moved_to_another_column_does_not_open(db: str) -> None:
    w = await world()
    decision = await f.decision(w["issuer"], w["item"], now=NOW)
    await connections.get("default").execute_script(f"UPDATE decision SET id_number = phone WHERE id = {decision.id}")
    with pytest.raises(crypto.SealBroken):
        await Decision.get(id=decision.id)


async def test_rotation_reseals_every_row_and_old_keys_serve_until_it_finishes(db: str, keys: Any) -> None:
    w = await world()
    decisions = [await f.decision(w["issuer"], w["item"], now=NOW, seq=n) for n in (1, 2, 3)]
    await appoint_liaison(
        w["admin"], department_id=w["market"].department_id, user_id=w["market"].id, title="科长",
        phone="13853712345", now=NOW,
    )  # fmt: skip
    number = f.person(1).id_number
    assert number is not None
    before = await stored(decisions[0].id)
    new = crypto.configure([NEW_KEY, DATA_KEY])

    # Mid-rotation: nothing re-sealed yet, yet rows open, lookups find them and a retry is recognised.
    assert await rows_not_under_current_key() == 4  # 3 decisions, 1 liaison term
    assert (await Decision.get(id=decisions[0].id)).id_number == number
    assert await find_by_id_number(w["issuer"], number).count() == 1
    same, created = await issue_decision(w["issuer"], retry_of(decisions[0]), now=NOW)
    assert (same.id, created) == (decisions[0].id, False)

    report = await reseal_all(batch_size=2)  # several batches, the last one partial
    resealed = {table: n for table, n in report.rows.items() if n}
    assert resealed == {"decision": 3, "liaison_appointment": 1} and report.key_id == new.current.kid
    assert await rows_not_under_current_key() == 0
    after = await stored(decisions[0].id)
    assert crypto.key_id_of(after["id_number"]) == new.current.kid != crypto.key_id_of(before["id_number"])
    assert after["id_number_hash"] != before["id_number_hash"]
    assert after["content_hash"] != before["content_hash"]

    crypto.configure([NEW_KEY])  # the old key is gone: everything still opens, is found, is recognised
    assert [d.id_number for d in await Decision.all().order_by("id")] == [f.person(n).id_number for n in (1, 2, 3)]
    assert (await LiaisonAppointment.all().first() or LiaisonAppointment()).phone == "13853712345"
    assert await find_by_id_number(w["issuer"], number).count() == 1
    same, created = await issue_decision(w["issuer"], retry_of(decisions[0]), now=NOW)
    assert (same.id, created) == (decisions[0].id, False)


async def test_plain_rows_left_by_an_older_version_are_sealed_by_a_reseal(db: str) -> None:
    w = await world()
    decision = await f.decision(w["issuer"], w["item"], now=NOW)
    number = f.person(1).id_number
    conn = connections.get("default")
    await conn.execute_script(
        f"UPDATE decision SET id_number = '{number}', phone = '13853712345', id_number_hash = NULL, "
        f"content_hash = 'legacy' WHERE id = {decision.id}"
    )
    assert await rows_not_under_current_key() == 1
    assert (await Decision.get(id=decision.id)).id_number == number  # plain rows still read
    await reseal_all()
    row = await stored(decision.id)
    assert row["id_number"].startswith("sg1:") and row["phone"].startswith("sg1:")
    assert row["id_number_hash"] == crypto.lookup_hash(number or "")
    same, created = await issue_decision(w["issuer"], retry_of(decision), now=NOW)
    assert (same.id, created) == (decision.id, False)  # the content digest was recomputed, keyed


async def test_an_experts_phone_and_conflict_identifiers_are_sealed_and_follow_a_rotation(db: str, keys: Any) -> None:
    from models.pool import Expert, conflicts_of, seal_conflicts

    person = f.person(7).id_number
    assert person is not None
    expert = await Expert.create(
        pool_department_id=1,
        name="王工",
        field="食品安全",
        title="高级工程师",
        employer="济宁市食品检验所",
        phone="13953712345",
        conflicts=seal_conflicts([person]),
        proposed_at=NOW,
    )
    _, rows = await connections.get("default").execute_query("SELECT phone, conflicts FROM pool_expert")
    assert person not in str(rows[0]["conflicts"]) and "13953712345" not in rows[0]["phone"]
    old_kid = crypto.key_id_of(str(rows[0]["phone"]))

    new = crypto.configure([NEW_KEY, DATA_KEY])
    assert await rows_not_under_current_key() == 2  # the row counted for its phone and for its conflict list
    report = await reseal_all()
    assert report.rows["pool_expert"] == 1 and report.rows["pool_expert conflicts"] == 1
    assert await rows_not_under_current_key() == 0
    row = await Expert.get(id=expert.id)
    assert (row.phone, conflicts_of(row)) == ("13953712345", [person])
    assert {crypto.key_id_of(c) for c in row.conflicts} == {new.current.kid} != {old_kid}
    crypto.configure([NEW_KEY])  # the old key gone: everything still opens
    row = await Expert.get(id=expert.id)
    assert conflicts_of(row) == [person]
