"""Obligations through the schema: the to-do list, node(id:), and events about any record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from api.graphql.base import to_global_id
from api.graphql.subscription import PlatformEventKind
from models.calendar import SHANGHAI
from models.enums import DepartmentKind, Role
from models.event import EventKind, last_sequence
from models.obligation import close_obligations, mark_obligation_overdue, obligation_kind, open_obligation
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_subscriptions import results, subscription

KIND = obligation_kind("TEST_API_REPLY", "测试答复", 5)
TODO = """query($s:ObligationStatus,$o:Boolean){obligations(status:$s,overdue:$o){totalCount
  edges{node{id kind title dueOn status overdue doneLate department{name} subject{__typename id}}}}}"""


def test_every_public_event_kind_is_in_the_schema_enum() -> None:
    internal = {EventKind.ACCESS_CHANGED.value}
    assert {k.value for k in PlatformEventKind} == {k.value for k in EventKind} - internal


async def open_for(department_id: int, subject_id: int, watchers: list[int], now: datetime) -> Any:
    async with in_transaction():
        return await open_obligation(
            KIND.kind,
            subject_type="Department",
            subject_id=subject_id,
            department_id=department_id,
            watchers=watchers,
            start=now,
        )


async def test_the_todo_list_shows_the_own_departments_obligations_earliest_first(gql: Gql, db: str) -> None:
    mine, other = await f.department(), await f.department(DepartmentKind.APPROVAL)
    me, them = await f.user(mine, Role.OFFICER), await f.user(other, Role.OFFICER)
    # 2026-09-28 + 5 working days crosses National Day: due 2026-10-10 (the make-up Saturday).
    late = await open_for(mine.id, other.id, [other.id], f.at(2026, 9, 28))
    later = await open_for(mine.id, other.id, [], f.at(2026, 10, 12))
    await open_for(other.id, mine.id, [], f.at(2026, 9, 28))

    result = await gql(TODO, user=me, now=f.at(2026, 10, 12))
    nodes = [e["node"] for e in result["data"]["obligations"]["edges"]]
    assert result["data"]["obligations"]["totalCount"] == 2
    assert [(n["id"], n["dueOn"], n["overdue"]) for n in nodes] == [
        (to_global_id("Obligation", late.id), "2026-10-10", True),
        (to_global_id("Obligation", later.id), "2026-10-19", False),
    ]
    assert nodes[0]["title"] == "测试答复"
    assert nodes[0]["subject"] == {"__typename": "Department", "id": to_global_id("Department", other.id)}

    overdue_only = await gql(TODO, {"o": True}, user=me, now=f.at(2026, 10, 12))
    assert [e["node"]["dueOn"] for e in overdue_only["data"]["obligations"]["edges"]] == ["2026-10-10"]
    in_time = await gql(TODO, {"o": False}, user=me, now=f.at(2026, 10, 12))
    assert [e["node"]["dueOn"] for e in in_time["data"]["obligations"]["edges"]] == ["2026-10-19"]
    async with in_transaction():
        await close_obligations("Department", other.id, now=f.at(2026, 10, 13), department_id=mine.id)
    done = await gql(TODO, {"s": "DONE"}, user=me, now=f.at(2026, 10, 13))
    assert [(e["node"]["status"], e["node"]["doneLate"]) for e in done["data"]["obligations"]["edges"]] == [
        ("DONE", True),
        ("DONE", False),
    ]
    # node(id:): the watcher sees it, a third department does not.
    query = "query($id:ID!){node(id:$id){... on Obligation{kind department{name}}}}"
    gid = to_global_id("Obligation", late.id)
    assert (await gql(query, {"id": gid}, user=them))["data"]["node"]["kind"] == KIND.kind
    stranger = await f.user(await f.department(), Role.OFFICER)
    assert (await gql(query, {"id": gid}, user=stranger))["data"]["node"] is None
    assert (await gql(TODO, user=None))["errors"][0]["code"] == "UNAUTHENTICATED"


RECORD_EVENTS = """subscription($a:String){events(after:$a,kinds:[OBLIGATION_OVERDUE]){cursor kind payload{
  __typename ... on RecordEventPayload{subject{__typename id} deadline{kind dueOn} detail}}}}"""


async def test_an_overdue_mark_reaches_the_department_and_its_watchers_as_a_record_event(services: Any) -> None:
    mine, watcher = await f.department(), await f.department(DepartmentKind.APPROVAL)
    me, boss = await f.user(mine, Role.OFFICER), await f.user(watcher, Role.LEADER)
    obligation = await open_for(mine.id, watcher.id, [watcher.id], f.at(2026, 9, 28))
    start = str(await last_sequence())
    mine_stream = await subscription(services, me, RECORD_EVENTS, {"a": start})
    watcher_stream = await subscription(services, boss, RECORD_EVENTS, {"a": start})

    async with in_transaction():
        assert await mark_obligation_overdue(obligation.id, now=f.at(2026, 10, 11))
    await services.after_commit(datetime.now(SHANGHAI))

    expected = {
        "__typename": "RecordEventPayload",
        "subject": {"__typename": "Department", "id": to_global_id("Department", watcher.id)},
        "deadline": {"kind": KIND.kind, "dueOn": "2026-10-10"},
        "detail": {"obligationKind": KIND.kind, "dueOn": "2026-10-10"},
    }
    for stream in (mine_stream, watcher_stream):
        (got,) = await results(stream, 1)
        assert got["errors"] == []
        assert (got["data"]["events"]["kind"], got["data"]["events"]["payload"]) == ("OBLIGATION_OVERDUE", expected)
        await stream.aclose()
