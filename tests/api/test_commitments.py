"""Notification-commitment verification through the schema (Art. 24): plans, tasks, outcomes, credit records."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from api.graphql.base import from_global_id
from models.catalogue import ApprovalItem, create_approval_item
from models.commitment import VerificationTask
from models.credit import CommitmentOutcome, CreditRecord
from models.decision import Decision
from models.enums import DecisionStatus, ObligationStatus, Role
from models.identifiers import mask_citizen_id
from models.obligation import Obligation, mark_obligation_overdue
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.oversight import PERSON_ID, World, call, codes, events, gid, world

PLAN = """mutation($input: SetVerificationPlanInput!) {
  setVerificationPlan(input: $input) {
    approvalItem { verificationPlan { exempt workingDays standard method responsibleSide } }
    errors { code field } } }"""
ISSUE = """mutation($input: IssueDecisionInput!) {
  issueDecision(input: $input) { decision { id commitmentBased status
    verificationTasks { id status dueOn method standard responsibleSide department { code }
      deadlines { kind dueOn status } } }
  errors { code field } } }"""
RESULT = """mutation($input: RecordVerificationResultInput!) {
  recordVerificationResult(input: $input) { verificationTask { id status result note
    outcomes { id kind status rectifyBy department { code } deadlines { kind dueOn status } } }
  errors { code field message } } }"""
COMPLETE = """mutation($id: ID!, $note: String!) {
  completeCommitmentOutcome(id: $id, note: $note) { commitmentOutcome { status doneNote deadlines { status } }
    errors { code field } } }"""
CREDIT = """query($counterparty: String) { creditRecords(counterparty: $counterparty) { totalCount
  edges { node { id counterpartyName idNumber reason referredToJudiciary referralReference
    recordedBy { code } } } } }"""
DECISION_CREDIT = "query($id: ID!) { node(id: $id) { ... on ApprovalDecision { creditRecords { idNumber reason } } } }"
TASKS = "query { verificationTasks { totalCount edges { node { department { code } } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
APPROVED = f.at(2026, 9, 30)
GOOD_PLAN = {
    "workingDays": 5,
    "standard": "《食品生产许可审查通则》",
    "method": "ON_SITE",
    "responsibleSide": "SUPERVISION",
}


def decision_input(w: World, number: str = "济审批食〔2026〕21号", **overrides: Any) -> dict[str, Any]:
    return {
        "itemId": gid("ApprovalItem", w.item.id),
        "documentNumber": number,
        "content": "准予食品生产许可（告知承诺）",
        "approvedOn": "2026-09-30",
        "commitmentBased": True,
        "counterparty": {"name": "王五", "kind": "PERSON", "idNumber": PERSON_ID, "phone": "13853712345"},
        **overrides,
    }


async def planned(gql: Gql, w: World, **plan: Any) -> dict[str, Any]:
    payload = await call(
        gql, PLAN, {"input": {"itemId": gid("ApprovalItem", w.item.id), **(plan or GOOD_PLAN)}}, w.admin
    )
    assert payload["errors"] == []
    return dict(payload["approvalItem"]["verificationPlan"])


async def issued(gql: Gql, w: World, **overrides: Any) -> dict[str, Any]:
    payload = await call(gql, ISSUE, {"input": decision_input(w, **overrides)}, w.officer, APPROVED)
    assert payload["errors"] == []
    return dict(payload["decision"])


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"workingDays": 0}, ("INVALID_TERM", "workingDays")),
        ({"workingDays": 61}, ("INVALID_TERM", "workingDays")),
        ({"standard": " "}, ("REQUIRED", "standard")),
        ({"method": None}, ("REQUIRED", "method")),
        ({"responsibleSide": None}, ("REQUIRED", "responsibleSide")),
        ({"itemId": "bad"}, ("INVALID_ID", "itemId")),
    ],
)
async def test_bad_plan_input_names_the_field_and_changes_nothing(
    gql: Gql, override: dict[str, Any], error: tuple[str, str]
) -> None:
    w = await world()
    variables = {"input": {"itemId": gid("ApprovalItem", w.item.id), **GOOD_PLAN, **override}}
    payload = await call(gql, PLAN, variables, w.admin)
    assert (payload["approvalItem"], codes(payload)) == (None, [error])
    item = await ApprovalItem.get(id=w.item.id)
    assert (item.verification_days, item.verification_exempt) == (None, False)


async def test_only_admins_set_plans_and_exempt_clears_the_rest(gql: Gql) -> None:
    w = await world()
    variables = {"input": {"itemId": gid("ApprovalItem", w.item.id), **GOOD_PLAN}}
    for user, code in ((w.officer, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        assert [e["code"] for e in (await gql(PLAN, variables, user=user))["errors"]] == [code]
    assert await planned(gql, w) == GOOD_PLAN | {"exempt": False}
    assert await planned(gql, w, exempt=True) == {
        "exempt": True,
        "workingDays": None,
        "standard": None,
        "method": None,
        "responsibleSide": None,
    }


async def test_commitment_decision_needs_a_commitment_item_with_a_plan(gql: Gql) -> None:
    w = await world()
    no_plan = await call(gql, ISSUE, {"input": decision_input(w)}, w.officer, APPROVED)
    assert codes(no_plan) == [("NO_VERIFICATION_PLAN", "commitmentBased")]
    plain = await f.item(w.market, code="PLAIN")
    wrong = await call(
        gql, ISSUE, {"input": decision_input(w, itemId=gid("ApprovalItem", plain.id))}, w.officer, APPROVED
    )
    assert codes(wrong) == [("ITEM_NOT_COMMITMENT_BASED", "commitmentBased")]
    assert (await Decision.all().count(), await VerificationTask.all().count()) == (0, 0)
    await planned(gql, w, exempt=True)
    exempt = await issued(gql, w)
    assert [(t["status"], t["dueOn"], t["deadlines"]) for t in exempt["verificationTasks"]] == [("EXEMPT", None, [])]
    ordinary = await issued(gql, w, documentNumber="济审批食〔2026〕22号", commitmentBased=None)
    assert (ordinary["commitmentBased"], ordinary["verificationTasks"]) == (False, [])


async def test_verification_end_to_end(gql: Gql) -> None:
    w = await world()
    await planned(gql, w)
    decision = await issued(gql, w)
    # 5 working days after 09-30: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13.
    tasks = {t["department"]["code"]: t for t in decision["verificationTasks"]}
    assert {code: (t["status"], t["dueOn"], t["method"], t["responsibleSide"]) for code, t in tasks.items()} == {
        "CITY-MARKET": ("OPEN", "2026-10-13", "ON_SITE", "SUPERVISION"),
        "CITY-HEALTH": ("OPEN", "2026-10-13", "ON_SITE", "SUPERVISION"),
    }
    assert tasks["CITY-MARKET"]["deadlines"] == [{"kind": "VERIFICATION", "dueOn": "2026-10-13", "status": "OPEN"}]
    assigned = await events("VERIFICATION_ASSIGNED")
    assert sorted(e[3] for e in assigned) == [
        sorted([w.approval.id, w.market.id]),
        sorted([w.approval.id, w.health.id]),
    ]

    market_id, health_id = tasks["CITY-MARKET"]["id"], tasks["CITY-HEALTH"]["id"]
    true_ = {"verificationId": market_id, "result": "TRUE", "note": "现场核查与承诺一致"}
    not_theirs = await call(gql, RESULT, {"input": true_}, w.health_officer, f.at(2026, 10, 14))
    assert codes(not_theirs) == [("VERIFICATION_NOT_FOUND", "id")]
    issuer = await call(gql, RESULT, {"input": true_}, w.officer, f.at(2026, 10, 14))
    assert codes(issuer) == [("FORBIDDEN", "id")]
    late = await call(gql, RESULT, {"input": true_}, w.market_officer, f.at(2026, 10, 14))
    assert late["verificationTask"]["result"] == "TRUE"
    assert (await Obligation.get(subject_type="VerificationTask", subject_id=pk(market_id))).done_late is True
    twice = await call(gql, RESULT, {"input": true_}, w.market_officer, f.at(2026, 10, 14))
    assert codes(twice) == [("VERIFICATION_NOT_OPEN", "id")]

    outcomes = [
        {"kind": "RECTIFY", "note": "补充防护设施", "rectifyBy": "2026-10-16"},
        {"kind": "REVOKE", "note": "承诺严重不实"},
        {"kind": "PENALTY", "note": "依法处罚", "departmentId": gid("Department", w.health.id)},
    ]
    false_ = {
        "verificationId": health_id,
        "result": "FALSE",
        "note": "生产场所与承诺不符",
        "outcomes": outcomes,
        "referredToJudiciary": True,
        "referralReference": "济公移〔2026〕3号",
    }
    recorded = await call(gql, RESULT, {"input": false_}, w.health_officer, f.at(2026, 10, 12))
    assert recorded["errors"] == []
    by_kind = {o["kind"]: o for o in recorded["verificationTask"]["outcomes"]}
    assert {k: (o["status"], o["department"]["code"]) for k, o in by_kind.items()} == {
        "RECTIFY": ("REQUESTED", "CITY-HEALTH"),
        "REVOKE": ("REQUESTED", "CITY-APPROVAL"),
        "PENALTY": ("REQUESTED", "CITY-HEALTH"),
    }
    # 10-12 to 10-16 is four working days: the rectification deadline is the date itself.
    assert by_kind["RECTIFY"]["deadlines"] == [{"kind": "RECTIFICATION", "dueOn": "2026-10-16", "status": "OPEN"}]
    requested = await events("COMMITMENT_OUTCOME_REQUESTED")
    revoke = next(e for e in requested if e[2]["kind"] == "REVOKE")
    assert (revoke[2]["dispositionPending"], revoke[3]) == (True, sorted([w.approval.id, w.health.id]))
    assert (await Decision.get(id=pk(decision["id"]))).status is DecisionStatus.VALID
    credit = await events("CREDIT_RECORDED")
    assert [(e[2]["referredToJudiciary"], e[3]) for e in credit] == [
        (True, sorted([w.approval.id, w.market.id, w.health.id]))
    ]

    for user, seen in ((w.officer, True), (w.market_officer, False)):
        outcome = (await gql(NODE, {"id": by_kind["REVOKE"]["id"]}, user=user))["data"]["node"]
        assert (outcome is not None) is seen
    await credit_is_visible(gql, w)
    await rectification_is_completed(gql, w, by_kind["RECTIFY"]["id"])


def pk(global_id: str) -> int:
    return from_global_id(global_id)[1]


async def credit_is_visible(gql: Gql, w: World) -> None:
    """By counterparty to every reading role; on the counterparty's later decisions; never to system accounts."""
    masked = mask_citizen_id(PERSON_ID)
    lookup = await gql(CREDIT, {"counterparty": PERSON_ID.lower()}, user=w.outsider_officer)
    node = lookup["data"]["creditRecords"]["edges"][0]["node"]
    assert {k: v for k, v in node.items() if k != "id"} == {
        "counterpartyName": "王五",
        "idNumber": masked,
        "reason": "生产场所与承诺不符",
        "referredToJudiciary": True,
        "referralReference": "济公移〔2026〕3号",
        "recordedBy": {"code": "CITY-HEALTH"},
    }
    assert (await CreditRecord.get()).lookup_key.startswith("ID:") and PERSON_ID not in (
        await CreditRecord.get()
    ).lookup_key

    async def own(user: Any) -> int:
        return int((await gql(CREDIT, {}, user=user))["data"]["creditRecords"]["totalCount"])

    assert [await own(u) for u in (w.health_officer, w.officer, w.leader, w.admin, w.market_officer)] == [1, 1, 1, 1, 0]
    assert [await own(u) for u in (w.outsider_officer,)] == [0]
    for user, seen in ((w.health_officer, True), (w.outsider_officer, False)):
        assert ((await gql(NODE, {"id": node["id"]}, user=user))["data"]["node"] is not None) is seen
    system = await gql(CREDIT, {"counterparty": PERSON_ID}, user=w.integration)
    assert [e["code"] for e in system["errors"]] == ["FORBIDDEN"]
    bad = await gql(CREDIT, {"counterparty": "370811198602140000"}, user=w.officer)
    assert [e["code"] for e in bad["errors"]] == ["BAD_USER_INPUT"]

    later = await call(
        gql, ISSUE, {"input": decision_input(w, "济审批食〔2026〕30号", commitmentBased=False)}, w.officer
    )
    later_id = later["decision"]["id"]
    for user, expected in ((w.officer, 1), (w.market_officer, 1), (w.integration, 0)):
        shown = (await gql(DECISION_CREDIT, {"id": later_id}, user=user))["data"]["node"]["creditRecords"]
        assert len(shown) == expected
    shown = (await gql(DECISION_CREDIT, {"id": later_id}, user=w.officer))["data"]["node"]["creditRecords"]
    assert shown == [{"idNumber": masked, "reason": "生产场所与承诺不符"}]


async def rectification_is_completed(gql: Gql, w: World, outcome_id: str) -> None:
    other = await call(gql, COMPLETE, {"id": outcome_id, "note": "已整改"}, w.market_officer)
    assert codes(other) == [("OUTCOME_NOT_FOUND", "id")]
    done = await call(gql, COMPLETE, {"id": outcome_id, "note": "已整改到位"}, w.health_officer, f.at(2026, 10, 15))
    assert done["commitmentOutcome"] == {"status": "DONE", "doneNote": "已整改到位", "deadlines": [{"status": "DONE"}]}
    assert [(e[2]["kind"], e[2]["late"]) for e in await events("COMMITMENT_OUTCOME_DONE")] == [("RECTIFY", False)]
    again = await call(gql, COMPLETE, {"id": outcome_id, "note": "再次"}, w.health_officer)
    assert codes(again) == [("OUTCOME_ALREADY_DONE", "id")]


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"note": ""}, ("REQUIRED", "note")),
        ({"outcomes": []}, ("REQUIRED", "outcomes")),
        ({"outcomes": [{"kind": "RECTIFY", "note": "整改"}]}, ("INVALID_RECTIFY_BY", "outcomes.0.rectifyBy")),
        (
            {"outcomes": [{"kind": "RECTIFY", "note": "整改", "rectifyBy": "2026-10-12"}]},
            ("INVALID_RECTIFY_BY", "outcomes.0.rectifyBy"),
        ),
        (
            {"outcomes": [{"kind": "PENALTY", "note": "处罚"}]},
            ("SUPERVISION_DEPARTMENT_REQUIRED", "outcomes.0.departmentId"),
        ),
        (
            {"outcomes": [{"kind": "TERMINATE", "note": "终止"}, {"kind": "TERMINATE", "note": "终止"}]},
            ("DUPLICATE_OUTCOME", "outcomes.1.kind"),
        ),
        ({"outcomes": [{"kind": "TERMINATE", "note": " "}]}, ("REQUIRED", "outcomes.0.note")),
        ({"referredToJudiciary": True}, ("REQUIRED", "referralReference")),
        ({"result": "TRUE"}, ("OUTCOMES_FOR_TRUE", "outcomes")),
        ({"verificationId": "bad"}, ("INVALID_ID", "verificationId")),
    ],
)
async def test_bad_result_input_names_the_field_and_writes_nothing(
    gql: Gql, override: dict[str, Any], error: tuple[str, str]
) -> None:
    w = await world()
    await planned(gql, w)
    decision = await issued(gql, w)
    task = next(t for t in decision["verificationTasks"] if t["department"]["code"] == "CITY-HEALTH")
    base = {
        "verificationId": task["id"],
        "result": "FALSE",
        "note": "不符",
        "outcomes": [{"kind": "TERMINATE", "note": "终止"}],
    }
    payload = await call(gql, RESULT, {"input": {**base, **override}}, w.health_officer, f.at(2026, 10, 12))
    assert (payload["verificationTask"], codes(payload)) == (None, [error])
    assert (await CommitmentOutcome.all().count(), await CreditRecord.all().count()) == (0, 0)
    assert await Obligation.filter(kind="VERIFICATION", status=ObligationStatus.OPEN).count() == 2
    assert await events("VERIFICATION_RECORDED") == []


async def test_verification_tasks_are_scoped(gql: Gql) -> None:
    w = await world()
    await planned(gql, w)
    decision = await issued(gql, w)

    async def departments(user: Any) -> list[str]:
        data = (await gql(TASKS, user=user))["data"]["verificationTasks"]
        return sorted(e["node"]["department"]["code"] for e in data["edges"])

    assert await departments(w.officer) == ["CITY-HEALTH", "CITY-MARKET"]
    assert await departments(w.market_officer) == ["CITY-MARKET"]
    assert await departments(w.outsider_officer) == []
    assert await departments(w.admin) == ["CITY-HEALTH", "CITY-MARKET"]
    market_task = next(t for t in decision["verificationTasks"] if t["department"]["code"] == "CITY-MARKET")
    for user, seen in ((w.market_officer, True), (w.health_officer, False), (w.outsider_officer, False)):
        assert ((await gql(NODE, {"id": market_task["id"]}, user=user))["data"]["node"] is not None) is seen


async def test_approval_side_plan_assigns_the_issuer(gql: Gql) -> None:
    w = await world()
    await planned(gql, w, **{**GOOD_PLAN, "responsibleSide": "APPROVAL", "method": "DOCUMENTS"})
    decision = await issued(gql, w)
    assert [(t["department"]["code"], t["method"]) for t in decision["verificationTasks"]] == [
        ("CITY-APPROVAL", "DOCUMENTS")
    ]
    other = await create_approval_item(
        code="OTHER",
        name="其他",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[w.market.id],
    )
    assert other.verification_days is None


async def test_concurrent_results_record_one_credit_record(gql: Gql) -> None:
    w = await world()
    await planned(gql, w)
    decision = await issued(gql, w)
    task = next(t for t in decision["verificationTasks"] if t["department"]["code"] == "CITY-HEALTH")
    officers = [await f.user(w.health, Role.OFFICER, username=f"verifier{i}") for i in range(10)]
    false_ = {
        "verificationId": task["id"],
        "result": "FALSE",
        "note": "不符",
        "outcomes": [{"kind": "TERMINATE", "note": "终止"}],
    }
    results = await asyncio.gather(*(gql(RESULT, {"input": false_}, user=o, now=f.at(2026, 10, 12)) for o in officers))
    payloads = [r["data"]["recordVerificationResult"] for r in results]
    outcomes = Counter(p["errors"][0]["code"] if p["errors"] else "RECORDED" for p in payloads)
    assert outcomes == {"RECORDED": 1, "VERIFICATION_NOT_OPEN": 9}
    assert (await CreditRecord.all().count(), await CommitmentOutcome.all().count()) == (1, 1)
    assert len(await events("CREDIT_RECORDED")) == 1


async def test_an_overdue_verification_is_told_to_the_verifier_and_the_issuer(gql: Gql) -> None:
    w = await world()
    await planned(gql, w)
    await issued(gql, w)
    row = await Obligation.get(kind="VERIFICATION", department_id=w.market.id)
    assert await mark_obligation_overdue(row.id, now=f.at(2026, 10, 13, 23, 59)) is False  # still the due day
    assert await mark_obligation_overdue(row.id, now=f.at(2026, 10, 14, 0, 0)) is True
    overdue = await events("OBLIGATION_OVERDUE")
    assert [(e[0], e[2]["obligationKind"], e[3]) for e in overdue] == [
        ("VerificationTask", "VERIFICATION", sorted([w.approval.id, w.market.id]))
    ]
