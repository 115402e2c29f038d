"""Supervision actions through the schema (Art. 21 (1)(2)): record, push (on time, late, offline), claim, return."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from typing import Any

from api.graphql.base import to_global_id
from models.account import User
from models.backflow import ActionStatus, SupervisionAction
from models.decision import Decision
from models.enums import ObligationStatus, Role
from models.event import Event, EventKind, EventRecipient
from models.identifiers import make_citizen_id, make_credit_code
from models.obligation import Obligation
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_decisions import World, world

ACTION = """id kind status penaltyDocumentNumber penaltyDecidedOn pushDueOn pushOverdue channel pushedOn pushedLate
  offlineChannel offlineReference claimedLate returnReason
  counterparty { name kind idNumber creditCode }
  department { code } approvalDepartment { code } decisions { documentNumber }
  deadlines { kind dueOn status doneLate department { code } }"""
RECORD = f"""mutation($input: RecordSupervisionActionInput!) {{
  recordSupervisionAction(input: $input) {{ supervisionAction {{ {ACTION} }} errors {{ code field message }} }} }}"""
PUSH = f"""mutation($id: ID!, $to: ID) {{
  pushSupervisionAction(id: $id, approvalDepartmentId: $to) {{
    supervisionAction {{ {ACTION} }} errors {{ code field }} }} }}"""
OFFLINE = f"""mutation($input: RecordOfflinePushInput!) {{
  recordOfflinePush(input: $input) {{ supervisionAction {{ {ACTION} }} errors {{ code field }} }} }}"""
CLAIM = f"""mutation($id: ID!) {{
  claimSupervisionAction(id: $id) {{ supervisionAction {{ {ACTION} }} errors {{ code field }} }} }}"""
RETURN = f"""mutation($id: ID!, $reason: String!) {{
  returnSupervisionAction(id: $id, reason: $reason) {{
    supervisionAction {{ {ACTION} }} errors {{ code field }} }} }}"""
LIST = """query($status: SupervisionActionStatus, $decision: ID) {
  supervisionActions(status: $status, decisionId: $decision) {
    totalCount edges { node { penaltyDocumentNumber } } } }"""
NODE = "query($id: ID!) { node(id: $id) { ... on SupervisionAction { penaltyDocumentNumber } } }"
TIMELINE = """query($id: ID!) { node(id: $id) { ... on ApprovalDecision {
  timeline { at kind actor department { code } note } } } }"""

# Penalty decided Monday 2026-09-28: 7 working days skip the National Day holiday (10-01..10-07) and count
# the make-up Saturday 10-10: 09-29, 09-30, 10-08, 10-09, 10-10, 10-12, 10-13.
PENALTY_ON = "2026-09-28"
PUSH_DUE = "2026-10-13"


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


async def decision_of(w: World) -> Decision:
    """Issued by the city bureau on 2026-09-01, pushed to the city market and health departments."""
    return await f.decision(w.issuer, w.item, now=f.at(2026, 9, 1), number="济审批食〔2026〕9号")


def action_input(decision: Decision | None = None, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "SUSPENSION_ORDER",
        "penaltyDocumentNumber": "济市监罚〔2026〕18号",
        "penaltyDecidedOn": PENALTY_ON,
        "content": "责令停产停业三个月",
        "decisionIds": [gid("ApprovalDecision", decision.id)] if decision else [],
    }
    data.update(over)
    return data


async def ok(gql: Gql, query: str, variables: dict[str, Any], user: User, now: Any) -> dict[str, Any]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    payload = dict(next(iter(result["data"].values())))
    assert payload["errors"] == [], payload
    return payload


async def errors_of(gql: Gql, query: str, variables: dict[str, Any], user: User, now: Any) -> list[tuple[str, str]]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    payload = next(iter(result["data"].values()))
    assert payload["supervisionAction"] is None
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def recorded(gql: Gql, w: World, decision: Decision | None = None, **over: Any) -> dict[str, Any]:
    payload = await ok(gql, RECORD, {"input": action_input(decision, **over)}, w.market_officer, f.at(2026, 9, 29))
    return dict(payload["supervisionAction"])


async def audience(kind: EventKind) -> list[list[int]]:
    out = []
    for event in await Event.filter(kind=kind).order_by("id"):
        rows = await EventRecipient.filter(event_id=event.id).order_by("department_id")
        out.append([r.department_id for r in rows])
    return out


async def test_push_is_due_seven_working_days_after_the_penalty_across_national_day(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    action = await recorded(gql, w, decision)
    assert (action["status"], action["pushDueOn"], action["channel"], action["pushedOn"]) == (
        "RECORDED",
        PUSH_DUE,
        None,
        None,
    )
    assert (action["approvalDepartment"], action["decisions"]) == (
        {"code": "CITY-APPROVAL"},
        [{"documentNumber": "济审批食〔2026〕9号"}],
    )
    # The counterparty comes from the decision, its ID number masked.
    assert action["counterparty"]["idNumber"].count("*") == 8
    assert action["deadlines"] == []

    pushed = await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 13, 17))
    assert {k: pushed["supervisionAction"][k] for k in ("status", "channel", "pushedOn", "pushedLate")} == {
        "status": "PENDING",
        "channel": "PLATFORM",
        "pushedOn": "2026-10-13",
        "pushedLate": False,
    }
    # The approval department claims within 3 working days of the push: 10-14, 10-15, 10-16.
    assert pushed["supervisionAction"]["deadlines"] == [
        {
            "kind": "PENALTY_CLAIM",
            "dueOn": "2026-10-16",
            "status": "OPEN",
            "doneLate": False,
            "department": {"code": "CITY-APPROVAL"},
        }
    ]
    assert await audience(EventKind.SUPERVISION_ACTION_PUSHED) == [sorted([w.market.id, w.city.id])]

    claimed = await ok(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 15))
    assert (claimed["supervisionAction"]["status"], claimed["supervisionAction"]["claimedLate"]) == ("CLAIMED", False)
    assert [d["status"] for d in claimed["supervisionAction"]["deadlines"]] == ["DONE"]
    assert await audience(EventKind.SUPERVISION_ACTION_CLAIMED) == [sorted([w.market.id, w.city.id])]

    again = await errors_of(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 15))
    assert again == [("ALREADY_CLAIMED", "id")]


async def test_a_push_after_the_due_day_is_allowed_and_recorded_late_and_a_late_claim_too(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    assert action["pushOverdue"] is False
    node = "query($id: ID!) { node(id: $id) { ... on SupervisionAction { pushOverdue } } }"
    for day, overdue in ((13, False), (14, True)):  # the due day lasts until its end
        result = await gql(node, {"id": action["id"]}, user=w.market_officer, now=f.at(2026, 10, day, 23, 59))
        assert result["data"]["node"] == {"pushOverdue": overdue}
    pushed = await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 14, 9))
    assert pushed["supervisionAction"]["pushOverdue"] is False
    assert (pushed["supervisionAction"]["pushedLate"], pushed["supervisionAction"]["pushedOn"]) == (True, "2026-10-14")
    claimed = await ok(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 20))
    assert claimed["supervisionAction"]["claimedLate"] is True
    assert [(o.status, o.done_late) for o in await Obligation.all()] == [(ObligationStatus.DONE, True)]


async def test_pushing_twice_is_refused(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    assert await errors_of(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9)) == [
        ("ALREADY_PUSHED", "id")
    ]
    assert await Obligation.all().count() == 1


async def test_an_offline_push_counts_on_its_own_date(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    offline = {
        "id": action["id"],
        "channel": "OFFICIAL_LETTER",
        "reference": "济市监函〔2026〕7号",
        "pushedOn": "2026-10-12",
    }
    payload = await ok(gql, OFFLINE, {"input": offline}, w.market_officer, f.at(2026, 10, 20))
    got = payload["supervisionAction"]
    assert (
        got["status"],
        got["channel"],
        got["offlineChannel"],
        got["offlineReference"],
        got["pushedOn"],
        got["pushedLate"],
    ) == (
        "PENDING",
        "OFFLINE",
        "OFFICIAL_LETTER",
        "济市监函〔2026〕7号",
        "2026-10-12",
        False,
    )
    late = await recorded(
        gql,
        w,
        None,
        approvalDepartmentId=gid("Department", w.city.id),
        counterparty={
            "name": "济宁鲁兴餐饮管理有限公司",
            "kind": "ORGANIZATION",
            "creditCode": make_credit_code("91370800MA3C4D5E6"),
        },
    )
    transfer = {
        "id": late["id"],
        "channel": "CASE_FILE_TRANSFER",
        "reference": "案卷 2026-31",
        "pushedOn": "2026-10-14",
    }
    payload = await ok(gql, OFFLINE, {"input": transfer}, w.market_officer, f.at(2026, 10, 20))
    assert payload["supervisionAction"]["pushedLate"] is True


async def test_offline_push_input_is_checked_per_field_and_nothing_is_written(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    future = {"id": action["id"], "channel": "COORDINATION_MEETING", "reference": " ", "pushedOn": "2026-10-21"}
    assert sorted(await errors_of(gql, OFFLINE, {"input": future}, w.market_officer, f.at(2026, 10, 20))) == [
        ("DATE_IN_FUTURE", "pushedOn"),
        ("REQUIRED", "reference"),
    ]
    early = {"id": action["id"], "channel": "COORDINATION_MEETING", "reference": "协调会", "pushedOn": "2026-09-27"}
    assert await errors_of(gql, OFFLINE, {"input": early}, w.market_officer, f.at(2026, 10, 20)) == [
        ("BEFORE_PENALTY", "pushedOn")
    ]
    row = await SupervisionAction.get()
    assert (row.status, row.channel, await Obligation.all().count()) == (ActionStatus.RECORDED, None, 0)


async def test_without_a_decision_the_counterparty_is_checked_and_masked(gql: Gql) -> None:
    w = await world()
    city = gid("Department", w.city.id)
    bad_id = {"name": "张三", "kind": "PERSON", "idNumber": "370811198602140011"}
    errors = await errors_of(
        gql,
        RECORD,
        {"input": action_input(None, approvalDepartmentId=city, counterparty=bad_id)},
        w.market_officer,
        f.at(2026, 9, 29),
    )
    assert errors == [("INVALID_ID_NUMBER", "counterparty.idNumber")]
    bad_code = {"name": "某公司", "kind": "ORGANIZATION", "creditCode": "91370800MA3C4D5E61"}
    errors = await errors_of(
        gql,
        RECORD,
        {"input": action_input(None, approvalDepartmentId=city, counterparty=bad_code)},
        w.market_officer,
        f.at(2026, 9, 29),
    )
    assert errors == [("INVALID_CREDIT_CODE", "counterparty.creditCode")]
    errors = await errors_of(gql, RECORD, {"input": action_input(None)}, w.market_officer, f.at(2026, 9, 29))
    assert sorted(errors) == [
        ("REQUIRED", "approvalDepartmentId"),
        ("REQUIRED", "counterparty.kind"),
        ("REQUIRED", "counterparty.name"),
    ]
    assert await SupervisionAction.all().count() == 0

    person = {"name": "李四", "kind": "PERSON", "idNumber": make_citizen_id("370811", "19800101", 7)}
    action = await recorded(gql, w, None, approvalDepartmentId=city, counterparty=person, kind="FINE")
    assert action["counterparty"] == {
        "name": "李四",
        "kind": "PERSON",
        "idNumber": make_citizen_id("370811", "19800101", 7)[:6]
        + "********"
        + make_citizen_id("370811", "19800101", 7)[-4:],
        "creditCode": None,
    }
    assert (action["decisions"], action["approvalDepartment"]) == ([], {"code": "CITY-APPROVAL"})


async def test_record_input_errors_name_their_fields(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    cases: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
        ({"penaltyDocumentNumber": ""}, [("REQUIRED", "penaltyDocumentNumber")]),
        ({"content": "x" * 20001}, [("TOO_LONG", "content")]),
        ({"penaltyDecidedOn": "2026-09-30"}, [("DATE_IN_FUTURE", "penaltyDecidedOn")]),
        ({"decisionIds": [gid("ApprovalDecision", 999999)]}, [("DECISION_NOT_FOUND", "decisionIds.0")]),
        ({"decisionIds": ["bm9wZQ"]}, [("INVALID_ID", "decisionIds.0")]),
        ({"approvalDepartmentId": gid("Department", w.county.id)}, [("NOT_THE_ISSUER", "approvalDepartmentId")]),
        ({"approvalDepartmentId": gid("Department", w.health.id)}, [("DEPARTMENT_NOT_FOUND", "approvalDepartmentId")]),
        ({"evidenceFileIds": [gid("EvidenceFile", 5)]}, [("FILE_NOT_FOUND", "evidenceFileIds.0")]),
    ]
    for change, expected in cases:
        got = await errors_of(
            gql, RECORD, {"input": action_input(decision, **change)}, w.market_officer, f.at(2026, 9, 29)
        )
        assert got == expected, change
    # A decision the supervision department never received is not found either.
    other = await f.decision(w.county_issuer, w.item, now=f.at(2026, 9, 1), number="任审批〔2026〕1号")
    got = await errors_of(gql, RECORD, {"input": action_input(other)}, w.market_officer, f.at(2026, 9, 29))
    assert got == [("DECISION_NOT_FOUND", "decisionIds.0")]
    assert await SupervisionAction.all().count() == 0


async def test_permissions_to_record_push_claim_and_return(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    anonymous = await gql(RECORD, {"input": action_input(decision)}, user=None, now=f.at(2026, 9, 29))
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    leader = await f.user(w.market, Role.LEADER)
    for who in (leader, w.issuer):
        assert await errors_of(gql, RECORD, {"input": action_input(decision)}, who, f.at(2026, 9, 29)) == [
            ("FORBIDDEN", None)
        ]
    action = await recorded(gql, w, decision)
    # Not yet pushed: the approval department cannot see or claim it; a colleague department cannot push it.
    assert await errors_of(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 9)) == [
        ("ACTION_NOT_FOUND", "id")
    ]
    assert await errors_of(gql, PUSH, {"id": action["id"], "to": None}, w.health_officer, f.at(2026, 10, 9)) == [
        ("ACTION_NOT_FOUND", "id")
    ]
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    for outsider in (w.market_officer, w.health_officer, w.county_issuer):
        assert await errors_of(gql, CLAIM, {"id": action["id"]}, outsider, f.at(2026, 10, 9)) == [
            ("ACTION_NOT_FOUND", "id")
        ]
    city_leader = await f.user(w.city, Role.LEADER)
    assert await errors_of(gql, CLAIM, {"id": action["id"]}, city_leader, f.at(2026, 10, 9)) == [("FORBIDDEN", "id")]
    assert await errors_of(gql, RETURN, {"id": action["id"], "reason": ""}, w.issuer, f.at(2026, 10, 9)) == [
        ("REQUIRED", "reason")
    ]
    assert (await SupervisionAction.get()).status is ActionStatus.PENDING


async def test_return_with_reason_then_push_elsewhere_when_no_decision_is_linked(gql: Gql) -> None:
    w = await world()
    person = {"name": "李四", "kind": "PERSON", "idNumber": make_citizen_id("370811", "19800101", 7)}
    action = await recorded(gql, w, None, approvalDepartmentId=gid("Department", w.city.id), counterparty=person)
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    returned = await ok(gql, RETURN, {"id": action["id"], "reason": "非本局许可事项"}, w.issuer, f.at(2026, 10, 10))
    assert (returned["supervisionAction"]["status"], returned["supervisionAction"]["returnReason"]) == (
        "RETURNED",
        "非本局许可事项",
    )
    assert [d["status"] for d in returned["supervisionAction"]["deadlines"]] == ["CANCELLED"]
    assert await errors_of(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 10)) == [
        ("ALREADY_RETURNED", "id")
    ]
    repushed = await ok(
        gql, PUSH, {"id": action["id"], "to": gid("Department", w.county.id)}, w.market_officer, f.at(2026, 10, 12)
    )
    assert (repushed["supervisionAction"]["status"], repushed["supervisionAction"]["approvalDepartment"]) == (
        "PENDING",
        {"code": "RC-APPROVAL"},
    )
    await ok(gql, CLAIM, {"id": action["id"]}, w.county_issuer, f.at(2026, 10, 12))
    assert await audience(EventKind.SUPERVISION_ACTION_RETURNED) == [sorted([w.market.id, w.city.id])]


async def test_a_returned_action_linked_to_a_decision_goes_only_to_its_issuer(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    await ok(gql, RETURN, {"id": action["id"], "reason": "请补充证据"}, w.issuer, f.at(2026, 10, 9))
    got = await errors_of(
        gql, PUSH, {"id": action["id"], "to": gid("Department", w.county.id)}, w.market_officer, f.at(2026, 10, 9)
    )
    assert got == [("NOT_THE_ISSUER", "approvalDepartmentId")]
    again = await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 12))
    assert (again["supervisionAction"]["status"], again["supervisionAction"]["returnReason"]) == ("PENDING", None)
    await ok(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 13))
    # The timeline keeps the first push and its return as well as the push that was claimed.
    row = await SupervisionAction.get()
    linked = await row.decisions.all()
    result = await gql(
        TIMELINE, {"id": gid("ApprovalDecision", linked[0].id)}, user=w.market_officer, now=f.at(2026, 10, 13)
    )
    steps = [(e["kind"], e["note"]) for e in result["data"]["node"]["timeline"] if e["kind"].startswith("ACTION")]
    assert steps == [
        ("ACTION_RECORDED", "SUSPENSION_ORDER"),
        ("ACTION_PUSHED", "PLATFORM"),
        ("ACTION_RETURNED", "请补充证据"),
        ("ACTION_PUSHED", "PLATFORM"),
        ("ACTION_CLAIMED", None),
    ]
    assert [p["returnReason"] for p in row.previous_pushes] == ["请补充证据"]


async def test_scoping_of_lists_and_node(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    first = await recorded(gql, w, decision)
    await recorded(gql, w, decision, penaltyDocumentNumber="济市监罚〔2026〕19号")
    await ok(gql, PUSH, {"id": first["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))

    async def seen(user: User, **variables: Any) -> list[str]:
        result = await gql(LIST, {"status": None, "decision": None, **variables}, user=user, now=f.at(2026, 10, 9))
        assert result["errors"] == []
        return [e["node"]["penaltyDocumentNumber"] for e in result["data"]["supervisionActions"]["edges"]]

    assert await seen(w.market_officer) == ["济市监罚〔2026〕18号", "济市监罚〔2026〕19号"]
    assert await seen(w.market_officer, status="RECORDED") == ["济市监罚〔2026〕19号"]
    assert await seen(w.issuer) == ["济市监罚〔2026〕18号"]  # pushed ones only
    assert await seen(w.issuer, decision=gid("ApprovalDecision", decision.id)) == ["济市监罚〔2026〕18号"]
    assert await seen(w.health_officer) == []
    assert await seen(w.county_issuer) == []
    assert await seen(w.admin) == ["济市监罚〔2026〕18号", "济市监罚〔2026〕19号"]
    for user, visible in (
        (w.market_officer, True),
        (w.issuer, True),
        (w.health_officer, False),
        (w.other_officer, False),
    ):
        result = await gql(NODE, {"id": first["id"]}, user=user, now=f.at(2026, 10, 9))
        assert (result["data"]["node"] is not None) is visible


async def test_the_timeline_orders_issue_pushes_and_the_action_steps(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    action = await recorded(gql, w, decision)
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    await ok(gql, CLAIM, {"id": action["id"]}, w.issuer, f.at(2026, 10, 12))
    result = await gql(TIMELINE, {"id": gid("ApprovalDecision", decision.id)}, user=w.issuer, now=f.at(2026, 10, 12))
    steps = [(e["kind"], e["department"]["code"], e["actor"]) for e in result["data"]["node"]["timeline"]]
    issuer_name = w.issuer.display_name
    assert steps[0] == ("ISSUED", "CITY-APPROVAL", issuer_name)
    assert sorted(steps[1:3]) == [("PUSHED", "CITY-HEALTH", None), ("PUSHED", "CITY-MARKET", None)]
    assert steps[3:] == [
        ("ACTION_RECORDED", "CITY-MARKET", w.market_officer.display_name),
        ("ACTION_PUSHED", "CITY-MARKET", w.market_officer.display_name),
        ("ACTION_CLAIMED", "CITY-APPROVAL", issuer_name),
    ]
    # The health department sees its own push and none of the market department's action.
    health = await gql(
        TIMELINE, {"id": gid("ApprovalDecision", decision.id)}, user=w.health_officer, now=f.at(2026, 10, 12)
    )
    assert [e["kind"] for e in health["data"]["node"]["timeline"]] == ["ISSUED", "PUSHED"]
    assert date.fromisoformat(result["data"]["node"]["timeline"][-1]["at"][:10]) == date(2026, 10, 12)


async def test_concurrent_claims_of_one_action_have_one_winner(gql: Gql) -> None:
    w = await world()
    action = await recorded(gql, w, await decision_of(w))
    await ok(gql, PUSH, {"id": action["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    officers = [await f.user(w.city, Role.OFFICER) for _ in range(20)]
    results = await asyncio.gather(
        *(gql(CLAIM, {"id": action["id"]}, user=o, now=f.at(2026, 10, 12)) for o in officers)
    )
    assert [r["errors"] for r in results] == [[]] * 20
    payloads = [r["data"]["claimSupervisionAction"] for r in results]
    outcomes = Counter(p["errors"][0]["code"] if p["errors"] else "CLAIMED" for p in payloads)
    assert outcomes == {"CLAIMED": 1, "ALREADY_CLAIMED": 19}
    assert await Event.filter(kind=EventKind.SUPERVISION_ACTION_CLAIMED).count() == 1
    assert [o.status for o in await Obligation.all()] == [ObligationStatus.DONE]
