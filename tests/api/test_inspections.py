"""Joint site inspections through the schema (Art. 22): invitations, draws, opinions, closing, linking."""

from __future__ import annotations

from typing import Any

import pytest

from models.enums import CounterpartyKind, InvitationStatus, ObligationStatus, PoolStatus
from models.expert_draw import ExpertDraw, replay
from models.inspection import InspectionInvitation, InspectionTask
from models.issuance import CounterpartyInput, DecisionInput, issue_decision
from models.obligation import Obligation
from models.pool import Expert, propose_expert, set_entry_status
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.oversight import COMPANY_CODE, OTHER_CODE, World, call, codes, events, gid, world

NOW = f.at(2026, 9, 29)  # Tuesday before the National Day week
PLANNED = "2026-09-30T09:00:00+08:00"
DEADLINE = "kind dueOn status"
TASK = f"""id kind status site plannedAt applicationReference counterpartyName counterpartyIdentifier
  organiser {{ code }} item {{ code }} decision {{ documentNumber }} conclusion closedAt
  invitations {{ id status reason department {{ code }} deadlines {{ {DEADLINE} }} }}
  draws {{ field count seed candidateIds exclusions {{ expertId reason }} experts {{ name }} }}
  opinions {{ opinion text department {{ code }} expert {{ name }} }}
  deadlines {{ {DEADLINE} department {{ code }} }}"""
CREATE = f"""mutation($input: CreateInspectionTaskInput!) {{
  createInspectionTask(input: $input) {{ inspectionTask {{ {TASK} }} errors {{ code field message }} }} }}"""
REPLY = """mutation($id: ID!, $accept: Boolean!, $reason: String) {
  replyInspectionInvitation(id: $id, accept: $accept, reason: $reason) {
    inspectionInvitation { status reason } errors { code field } } }"""
DRAW = """mutation($input: DrawExpertsInput!) {
  drawExperts(input: $input) { expertDraw { seed candidateIds exclusions { expertId reason } experts { id name } }
    errors { code field message } } }"""
OPINION = """mutation($input: RecordInspectionOpinionInput!) {
  recordInspectionOpinion(input: $input) { inspectionOpinion { opinion text } errors { code field } } }"""
CLOSE = f"""mutation($id: ID!, $conclusion: String!) {{
  closeInspectionTask(id: $id, conclusion: $conclusion) {{ inspectionTask {{ {TASK} }} errors {{ code field }} }} }}"""
LINK = """mutation($id: ID!, $decisionId: ID!) {
  linkInspectionTask(id: $id, decisionId: $decisionId) { inspectionTask { decision { documentNumber } }
    errors { code field } } }"""
TASKS = "query { inspectionTasks { totalCount edges { node { site } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
DECISION = "query($id: ID!) { node(id: $id) { ... on ApprovalDecision { inspections { site status } } } }"


async def pool(
    w: World, *names: str, field: str = "食品安全", conflicts: dict[str, list[str]] | None = None
) -> list[Expert]:
    """Approved experts of a field, proposed by the market department."""
    out = []
    for name in names:
        expert = await propose_expert(
            w.market_officer,
            pool_department_id=w.approval.id,
            name=name,
            field=field,
            title="高级工程师",
            employer="济宁市食品检验所",
            phone="13953712345",
            conflicts=(conflicts or {}).get(name, []),
            now=NOW,
        )
        out.append(await set_entry_status(w.officer, Expert, expert.id, PoolStatus.APPROVED, None, now=NOW))
    return out


def application(w: World, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "SITE_SURVEY",
        "site": "济宁市任城区红星路 12 号",
        "plannedAt": PLANNED,
        "invitedDepartmentIds": [gid("Department", w.market.id), gid("Department", w.health.id)],
        "applicationReference": "SQ-2026-0931",
        "itemId": gid("ApprovalItem", w.item.id),
        "counterparty": {"name": "济宁鲁兴食品有限公司", "kind": "ORGANIZATION", "creditCode": COMPANY_CODE},
        **overrides,
    }


async def create(gql: Gql, w: World, **overrides: Any) -> dict[str, Any]:
    payload = await call(gql, CREATE, {"input": application(w, **overrides)}, w.officer, NOW)
    assert payload["errors"] == []
    return dict(payload["inspectionTask"])


async def test_joint_inspection_end_to_end(gql: Gql) -> None:
    w = await world()
    experts = await pool(w, "甲", "乙", "丙", "丁", conflicts={"丙": [COMPANY_CODE]})
    task = await create(gql, w)
    assert (task["status"], task["counterpartyIdentifier"], task["item"]["code"]) == (
        "PLANNED",
        COMPANY_CODE,
        "FOOD-PRODUCTION",
    )
    # 2 working days from Tuesday 09-29 skip the National Day week: due Thursday 10-08.
    assert [(i["department"]["code"], i["deadlines"]) for i in task["invitations"]] == [
        ("CITY-MARKET", [{"kind": "INSPECTION_REPLY", "dueOn": "2026-10-08", "status": "OPEN"}]),
        ("CITY-HEALTH", [{"kind": "INSPECTION_REPLY", "dueOn": "2026-10-08", "status": "OPEN"}]),
    ]
    invited = await events("INSPECTION_INVITED")
    assert [e[3] for e in invited] == [sorted([w.approval.id, w.market.id]), sorted([w.approval.id, w.health.id])]
    assert invited[0][2]["dueOn"] == "2026-10-08" and invited[0][2]["obligationKind"] == "INSPECTION_REPLY"

    market_inv, health_inv = (i["id"] for i in task["invitations"])
    no_reason = await call(gql, REPLY, {"id": health_inv, "accept": False}, w.health_officer, NOW)
    assert codes(no_reason) == [("REQUIRED", "reason")]
    declined = await call(gql, REPLY, {"id": health_inv, "accept": False, "reason": "当日有专项检查"}, w.health_officer)
    assert declined["inspectionInvitation"] == {"status": "DECLINED", "reason": "当日有专项检查"}
    not_theirs = await call(gql, REPLY, {"id": market_inv, "accept": True}, w.health_officer, NOW)
    assert codes(not_theirs) == [("INVITATION_NOT_FOUND", "id")]
    accepted = await call(gql, REPLY, {"id": market_inv, "accept": True}, w.market_officer, NOW)
    assert accepted["inspectionInvitation"]["status"] == "ACCEPTED"
    twice = await call(gql, REPLY, {"id": market_inv, "accept": False, "reason": "x"}, w.market_officer, NOW)
    assert codes(twice) == [("ALREADY_REPLIED", "id")]
    replied = await events("INSPECTION_INVITATION_REPLIED")
    assert [(e[2]["status"], e[3]) for e in replied] == [
        ("DECLINED", sorted([w.approval.id, w.health.id])),
        ("ACCEPTED", sorted([w.approval.id, w.market.id])),
    ]

    drawn = await call(gql, DRAW, {"input": {"taskId": task["id"], "field": "食品安全", "count": 2}}, w.officer, NOW)
    assert drawn["errors"] == []
    draw = drawn["expertDraw"]
    assert draw["candidateIds"] == [gid("Expert", e.id) for e in experts]
    assert draw["exclusions"] == [{"expertId": gid("Expert", experts[2].id), "reason": "CONFLICT_OF_INTEREST"}]
    assert len(draw["experts"]) == 2 and "丙" not in [e["name"] for e in draw["experts"]]
    row = await ExpertDraw.get()
    assert (str(row.seed), replay(row)) == (draw["seed"], row.result)
    assert [e[3] for e in await events("INSPECTION_EXPERTS_DRAWN")] == [sorted([w.approval.id, w.market.id])]

    await opinions(gql, w, task["id"], [e["id"] for e in draw["experts"]])
    closed = await call(
        gql, CLOSE, {"id": task["id"], "conclusion": "现场符合要求，同意"}, w.officer, f.at(2026, 10, 9)
    )
    final = closed["inspectionTask"]
    assert (final["status"], final["conclusion"], final["closedAt"]) == (
        "CLOSED",
        "现场符合要求，同意",
        "2026-10-09T10:00:00+08:00",
    )
    assert sorted((d["department"]["code"], d["kind"], d["dueOn"], d["status"]) for d in final["deadlines"]) == [
        ("CITY-APPROVAL", "INSPECTION_OPINION", "2026-10-10", "DONE"),
        ("CITY-MARKET", "INSPECTION_OPINION", "2026-10-10", "DONE"),
    ]
    assert [e[3] for e in await events("INSPECTION_CLOSED")] == [sorted([w.approval.id, w.market.id, w.health.id])]
    again = await call(gql, CLOSE, {"id": task["id"], "conclusion": "再次"}, w.officer, NOW)
    assert codes(again) == [("INSPECTION_CLOSED", "id")]

    await link_to_decision(gql, w, task["id"])


async def opinions(gql: Gql, w: World, task_id: str, expert_ids: list[str]) -> None:
    """The accepted department gives its own; the organiser records each drawn expert's (3 working days)."""
    market = {"taskId": task_id, "opinion": "AGREE_WITH_CONDITIONS", "text": "需完善防鼠设施"}
    health = await call(gql, OPINION, {"input": {**market, "opinion": "AGREE"}}, w.health_officer, NOW)
    assert codes(health) == [("FORBIDDEN", "id")]  # declined: not a participant
    given = await call(gql, OPINION, {"input": market}, w.market_officer, f.at(2026, 10, 8))
    assert given["inspectionOpinion"] == {"opinion": "AGREE_WITH_CONDITIONS", "text": "需完善防鼠设施"}
    dup = await call(gql, OPINION, {"input": market}, w.market_officer, f.at(2026, 10, 8))
    assert codes(dup) == [("OPINION_ALREADY_RECORDED", "id")]
    outsider = await call(gql, OPINION, {"input": {**market, "expertId": expert_ids[0]}}, w.market_officer, NOW)
    assert codes(outsider) == [("FORBIDDEN", "expertId")]
    for n, expert_id in enumerate(expert_ids):
        payload = {"taskId": task_id, "opinion": "AGREE", "text": f"专家意见{n}", "expertId": expert_id}
        assert (await call(gql, OPINION, {"input": payload}, w.officer, f.at(2026, 10, 8)))["errors"] == []
        still_open = await Obligation.filter(
            subject_type="InspectionTask", department_id=w.approval.id, status=ObligationStatus.OPEN
        ).exists()
        assert still_open is (n == 0)  # the organiser's opinion deadline closes with the last expert's
    recorded = await events("INSPECTION_OPINION_RECORDED")
    assert [e[3] for e in recorded] == [sorted([w.approval.id, w.market.id]), [w.approval.id], [w.approval.id]]


async def link_to_decision(gql: Gql, w: World, task_id: str) -> None:
    """The decision that follows the application links to its inspection and shows it."""
    counterparty = CounterpartyInput(
        name="济宁鲁兴食品有限公司", kind=CounterpartyKind.ORGANIZATION, credit_code=COMPANY_CODE
    )
    data = DecisionInput(
        item_id=w.item.id,
        document_number="济审批食〔2026〕8号",
        content="准予食品生产许可",
        approved_on=f.at(2026, 10, 9).date(),
        counterparty=counterparty,
    )
    decision, _ = await issue_decision(w.officer, data, now=f.at(2026, 10, 9))
    other, _ = await issue_decision(
        w.officer,
        DecisionInput(
            item_id=w.item.id,
            document_number="济审批食〔2026〕9号",
            content="准予",
            approved_on=f.at(2026, 10, 9).date(),
            counterparty=CounterpartyInput(name="他人", kind=CounterpartyKind.ORGANIZATION, credit_code=OTHER_CODE),
        ),
        now=f.at(2026, 10, 9),
    )
    mismatch = await call(gql, LINK, {"id": task_id, "decisionId": gid("ApprovalDecision", other.id)}, w.officer)
    assert codes(mismatch) == [("SUBJECT_MISMATCH", "decisionId")]
    linked = await call(gql, LINK, {"id": task_id, "decisionId": gid("ApprovalDecision", decision.id)}, w.officer)
    assert linked["inspectionTask"]["decision"] == {"documentNumber": "济审批食〔2026〕8号"}
    for user, seen in ((w.officer, 1), (w.market_officer, 1), (w.outsider_officer, None)):
        data_ = (await gql(DECISION, {"id": gid("ApprovalDecision", decision.id)}, user=user))["data"]["node"]
        assert (len(data_["inspections"]) if data_ else None) == seen


async def test_inspection_tasks_are_scoped(gql: Gql) -> None:
    w = await world()
    task = await create(gql, w, invitedDepartmentIds=[gid("Department", w.market.id)])

    async def sites(user: Any) -> int:
        data = (await gql(TASKS, user=user, now=NOW))["data"]["inspectionTasks"]
        return int(data["totalCount"])

    assert [await sites(u) for u in (w.officer, w.market_officer, w.admin, w.health_officer, w.county_officer)] == [
        1,
        1,
        1,
        0,
        0,
    ]
    for user, seen in ((w.market_officer, True), (w.health_officer, False), (w.county_officer, False)):
        node = (await gql(NODE, {"id": task["id"]}, user=user))["data"]["node"]
        assert (node is not None) is seen
        invitation = (await gql(NODE, {"id": task["invitations"][0]["id"]}, user=user))["data"]["node"]
        assert (invitation is not None) is seen
    anonymous = await gql(TASKS, user=None)
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"site": " "}, ("REQUIRED", "site")),
        ({"plannedAt": "2026-09-28T09:00:00+08:00"}, ("DATE_IN_PAST", "plannedAt")),
        ({"invitedDepartmentIds": ["approval"]}, ("NOT_A_SUPERVISION_DEPARTMENT", "invitedDepartmentIds.0")),
        ({"invitedDepartmentIds": ["nope"]}, ("INVALID_ID", "invitedDepartmentIds.0")),
        ({"applicationReference": None}, ("SUBJECT_REQUIRED", "applicationReference")),
        ({"applicationReference": "号" * 65}, ("TOO_LONG", "applicationReference")),
        (
            {"counterparty": {"name": "某公司", "kind": "ORGANIZATION", "creditCode": "91370800MA3C4D5E60"}},
            ("INVALID_CREDIT_CODE", "counterparty.creditCode"),
        ),
        ({"itemId": "plain"}, ("ITEM_NOT_JOINT_INSPECTION", "itemId")),
    ],
)
async def test_bad_task_input_names_the_field_and_writes_nothing(
    gql: Gql, override: dict[str, Any], error: tuple[str, str]
) -> None:
    w = await world()
    if override.get("invitedDepartmentIds") == ["approval"]:
        override = {"invitedDepartmentIds": [gid("Department", w.county_approval.id)]}
    if override.get("itemId") == "plain":
        override = {"itemId": gid("ApprovalItem", (await f.item(w.market)).id)}
    payload = await call(gql, CREATE, {"input": application(w, **override)}, w.officer, NOW)
    assert (payload["inspectionTask"], codes(payload)) == (None, [error])
    assert (await InspectionTask.all().count(), await InspectionInvitation.all().count()) == (0, 0)
    assert await events("INSPECTION_INVITED") == []


async def test_only_approval_officers_organise(gql: Gql) -> None:
    w = await world()
    market = await call(gql, CREATE, {"input": application(w)}, w.market_officer, NOW)
    assert codes(market) == [("FORBIDDEN", None)]
    for user, code in ((w.leader, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        result = await gql(CREATE, {"input": application(w)}, user=user, now=NOW)
        assert [e["code"] for e in result["errors"]] == [code]
    assert await InspectionTask.all().count() == 0


async def test_draw_honours_recent_draws_and_reports_too_few(gql: Gql) -> None:
    w = await world()
    experts = await pool(w, "甲", "乙", "丙")
    await pool(w, "戊", field="消防")
    first = await create(gql, w)
    second = await create(gql, w, site="另一现场")
    one = await call(gql, DRAW, {"input": {"taskId": first["id"], "field": "食品安全", "count": 2}}, w.officer, NOW)
    chosen = {e["id"] for e in one["expertDraw"]["experts"]}
    later = f.at(2026, 10, 9)
    too_many = await call(
        gql, DRAW, {"input": {"taskId": second["id"], "field": "食品安全", "count": 2}}, w.officer, later
    )
    assert [(e["code"], e["field"]) for e in too_many["errors"]] == [("NOT_ENOUGH_EXPERTS", "count")]
    ok = await call(gql, DRAW, {"input": {"taskId": second["id"], "field": "食品安全", "count": 1}}, w.officer, later)
    draw = ok["expertDraw"]
    assert {x["expertId"] for x in draw["exclusions"]} == chosen
    assert {x["reason"] for x in draw["exclusions"]} == {"DRAWN_RECENTLY"}
    assert {e["id"] for e in draw["experts"]} == {gid("Expert", e.id) for e in experts} - chosen
    no_lookback = {"taskId": second["id"], "field": "食品安全", "count": 2, "lookbackDays": 0}
    again = await call(gql, DRAW, {"input": no_lookback}, w.officer, later)
    assert [x["reason"] for x in again["expertDraw"]["exclusions"]] == ["ALREADY_ON_TASK"]
    for bad, error in (
        ({"count": 0}, ("INVALID_COUNT", "count")),
        ({"lookbackDays": -1}, ("INVALID_LOOKBACK", "lookbackDays")),
        ({"field": ""}, ("REQUIRED", "field")),
    ):
        payload = await call(
            gql, DRAW, {"input": {"taskId": first["id"], "field": "食品安全", "count": 1, **bad}}, w.officer, later
        )
        assert codes(payload) == [error]
    market = await call(
        gql, DRAW, {"input": {"taskId": first["id"], "field": "食品安全", "count": 1}}, w.market_officer
    )
    assert codes(market) == [("FORBIDDEN", "id")]
    assert await ExpertDraw.all().count() == 3
    assert (await InspectionInvitation.filter(status=InvitationStatus.PENDING).count()) == 4


AVAILABILITY = """mutation($id: ID!, $available: Boolean!) {
  setExpertAvailability(id: $id, available: $available) { expert { isAvailable } errors { code field } } }"""


async def test_an_unavailable_expert_is_no_candidate(gql: Gql) -> None:
    w = await world()
    experts = await pool(w, "甲", "乙")
    away = gid("Expert", experts[0].id)
    market = await call(gql, AVAILABILITY, {"id": away, "available": False}, w.market_officer, NOW)
    assert codes(market) == [("FORBIDDEN", "id")]
    assert (await call(gql, AVAILABILITY, {"id": away, "available": False}, w.officer, NOW))["expert"] == {
        "isAvailable": False
    }
    task = await create(gql, w)
    drawn = await call(gql, DRAW, {"input": {"taskId": task["id"], "field": "食品安全", "count": 1}}, w.officer, NOW)
    assert drawn["expertDraw"]["candidateIds"] == [gid("Expert", experts[1].id)]
    assert [e["name"] for e in drawn["expertDraw"]["experts"]] == ["乙"]


async def test_bad_reply_opinion_close_and_link_input_names_the_field(gql: Gql) -> None:
    w = await world()
    experts = await pool(w, "甲")
    task = await create(gql, w)
    market_inv = task["invitations"][0]["id"]
    long_reason = await call(gql, REPLY, {"id": market_inv, "accept": False, "reason": "因" * 501}, w.market_officer)
    assert codes(long_reason) == [("TOO_LONG", "reason")]
    wrong_id = await call(gql, REPLY, {"id": task["id"], "accept": True}, w.market_officer)
    assert codes(wrong_id) == [("INVALID_ID", "id")]
    await call(gql, REPLY, {"id": market_inv, "accept": True}, w.market_officer, NOW)
    empty = {"taskId": task["id"], "opinion": "AGREE", "text": " "}
    assert codes(await call(gql, OPINION, {"input": empty}, w.market_officer, NOW)) == [("REQUIRED", "text")]
    undrawn = {"taskId": task["id"], "opinion": "AGREE", "text": "同意", "expertId": gid("Expert", experts[0].id)}
    assert codes(await call(gql, OPINION, {"input": undrawn}, w.officer, NOW)) == [("EXPERT_NOT_ON_TASK", "expertId")]
    no_conclusion = await call(gql, CLOSE, {"id": task["id"], "conclusion": ""}, w.officer, NOW)
    assert codes(no_conclusion) == [("REQUIRED", "conclusion")]
    by_market = await call(gql, CLOSE, {"id": task["id"], "conclusion": "同意"}, w.market_officer, NOW)
    assert codes(by_market) == [("FORBIDDEN", "id")]
    missing = await call(gql, LINK, {"id": task["id"], "decisionId": gid("ApprovalDecision", 999)}, w.officer, NOW)
    assert codes(missing) == [("DECISION_NOT_FOUND", "decisionId")]
    row = await InspectionTask.get()
    assert (row.status.value, row.conclusion, row.decision_id) == ("PLANNED", None, None)
    assert await events("INSPECTION_OPINION_RECORDED") == []


async def test_an_inspection_of_an_issued_decision_takes_its_item_and_counterparty(gql: Gql) -> None:
    w = await world()
    decision = await f.decision(w.officer, w.item, now=NOW, number="济审批食〔2026〕40号")
    by_decision = {
        "kind": "INSPECTION",
        "site": "现场",
        "plannedAt": PLANNED,
        "decisionId": gid("ApprovalDecision", decision.id),
    }
    task = (await call(gql, CREATE, {"input": by_decision}, w.officer, NOW))["inspectionTask"]
    assert (task["decision"], task["item"], task["counterpartyName"], task["applicationReference"]) == (
        {"documentNumber": "济审批食〔2026〕40号"},
        {"code": "FOOD-PRODUCTION"},
        "张三",
        None,
    )
    assert task["counterpartyIdentifier"] == decision.id_number[:6] + "********" + decision.id_number[-4:]
    other_issuer = await call(gql, CREATE, {"input": by_decision}, w.county_officer, NOW)
    assert codes(other_issuer) == [("DECISION_NOT_FOUND", "decisionId")]
    shown = (await gql(DECISION, {"id": gid("ApprovalDecision", decision.id)}, user=w.officer))["data"]["node"]
    assert shown == {"inspections": [{"site": "现场", "status": "PLANNED"}]}
