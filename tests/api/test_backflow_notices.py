"""Formal notices and dispositions through the schema (Art. 21 (3), 34): review, decide, status changes."""

from __future__ import annotations

from typing import Any

from models.account import User
from models.decision import Decision
from models.enums import DecisionStatus, ObligationStatus, Role
from models.event import Event, EventKind
from models.notice import DecisionStatusChange, Notice, NoticeStatus
from models.obligation import Obligation
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_backflow_actions import audience, decision_of, gid
from tests.api.test_decisions import World, world

NOTICE = """id direction kind status sender { code } recipient { code } reasons replyWorkingDays meetingAt meetingPlace
  outcome outcomeReasons repliedLate decision { documentNumber status }
  deadlines { kind dueOn status doneLate department { code } }"""
SEND = f"""mutation($input: SendNoticeInput!) {{
  sendNotice(input: $input) {{ notice {{ {NOTICE} }} errors {{ code field message }} }} }}"""
REVIEW = f"""mutation($id: ID!) {{ startNoticeReview(id: $id) {{ notice {{ {NOTICE} }} errors {{ code field }} }} }}"""
MEETING = f"""mutation($id: ID!, $at: DateTime!, $place: String!) {{
  scheduleNoticeMeeting(id: $id, meetingAt: $at, place: $place) {{
    notice {{ {NOTICE} }} errors {{ code field }} }} }}"""
DECIDE = f"""mutation($input: DecideNoticeInput!) {{
  decideNotice(input: $input) {{ notice {{ {NOTICE} }} errors {{ code field }} }} }}"""
CHANGE = """mutation($input: ChangeDecisionStatusInput!) {
  changeDecisionStatus(input: $input) { decision { status } errors { code field } } }"""
LIST = """query($direction: NoticeDirection, $status: NoticeStatus) {
  notices(direction: $direction, status: $status) { totalCount edges { node { kind direction } } } }"""
TIMELINE = """query($id: ID!) { node(id: $id) { ... on ApprovalDecision { status
  timeline { kind department { code } note documentNumber } } } }"""


async def ok(gql: Gql, query: str, variables: dict[str, Any], user: User, now: Any) -> dict[str, Any]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    payload = dict(next(iter(result["data"].values())))
    assert payload["errors"] == [], payload
    return payload


async def errors_of(gql: Gql, query: str, variables: dict[str, Any], user: User, now: Any) -> list[tuple[str, Any]]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    payload = next(iter(result["data"].values()))
    assert (payload.get("notice"), payload.get("decision")) == (None, None)
    return [(e["code"], e["field"]) for e in payload["errors"]]


def notice_input(decision: Decision, kind: str = "REVOKE", **over: Any) -> dict[str, Any]:
    return {"decisionId": gid("ApprovalDecision", decision.id), "kind": kind, "reasons": "以欺骗手段取得许可", **over}


DISPOSITION = {"documentNumber": "济审批撤〔2026〕3号", "decidedOn": "2026-10-20", "reason": "撤销许可"}


async def sent(gql: Gql, w: World, decision: Decision, kind: str = "REVOKE") -> dict[str, Any]:
    payload = await ok(gql, SEND, {"input": notice_input(decision, kind)}, w.market_officer, f.at(2026, 9, 30))
    return dict(payload["notice"])


async def test_a_revoke_notice_is_reviewed_discussed_accepted_and_the_decision_revoked(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    notice = await sent(gql, w, decision)
    assert {k: notice[k] for k in ("direction", "kind", "status", "sender", "recipient", "replyWorkingDays")} == {
        "direction": "TO_APPROVAL",
        "kind": "REVOKE",
        "status": "RECEIVED",
        "sender": {"code": "CITY-MARKET"},
        "recipient": {"code": "CITY-APPROVAL"},
        "replyWorkingDays": 10,
    }
    # 10 working days from 2026-09-30 across National Day: 10-08, 09, 10 (make-up), 12..16, 19, 20.
    assert notice["deadlines"] == [
        {
            "kind": "NOTICE_REPLY",
            "dueOn": "2026-10-20",
            "status": "OPEN",
            "doneLate": False,
            "department": {"code": "CITY-APPROVAL"},
        }
    ]
    reviewing = await ok(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 8))
    assert reviewing["notice"]["status"] == "UNDER_REVIEW"
    meeting = await ok(
        gql,
        MEETING,
        {"id": notice["id"], "at": "2026-10-15T09:30:00+08:00", "place": "第三会议室"},
        w.issuer,
        f.at(2026, 10, 9),
    )
    assert (meeting["notice"]["status"], meeting["notice"]["meetingAt"]) == (
        "MEETING_SCHEDULED",
        "2026-10-15T09:30:00+08:00",
    )
    decided = await ok(
        gql,
        DECIDE,
        {
            "input": {
                "id": notice["id"],
                "outcome": "ACCEPTED",
                "reasons": "经专题会议研究，予以撤销",
                "disposition": DISPOSITION,
            }
        },
        w.issuer,
        f.at(2026, 10, 20, 16),
    )
    got = decided["notice"]
    assert (got["status"], got["outcome"], got["repliedLate"], got["decision"]) == (
        "DECIDED",
        "ACCEPTED",
        False,
        {"documentNumber": decision.document_number, "status": "REVOKED"},
    )
    assert [d["status"] for d in got["deadlines"]] == ["DONE"]
    assert (await Decision.get(id=decision.id)).status is DecisionStatus.REVOKED
    change = await DecisionStatusChange.get(decision_id=decision.id)
    assert (change.from_status, change.to_status, change.document_number, str(change.decided_on)) == (
        DecisionStatus.VALID,
        DecisionStatus.REVOKED,
        "济审批撤〔2026〕3号",
        "2026-10-20",
    )
    # The outcome reaches the notifying department and every department that received the decision.
    assert await audience(EventKind.DECISION_STATUS_CHANGED) == [sorted([w.city.id, w.market.id, w.health.id])]
    assert len(await audience(EventKind.NOTICE_STATUS_CHANGED)) == 2
    assert await audience(EventKind.NOTICE_DECIDED) == [sorted([w.city.id, w.market.id])]

    timeline = await gql(
        TIMELINE, {"id": gid("ApprovalDecision", decision.id)}, user=w.market_officer, now=f.at(2026, 10, 21)
    )
    kinds = [(e["kind"], e["note"], e["documentNumber"]) for e in timeline["data"]["node"]["timeline"]]
    assert kinds == [
        ("ISSUED", None, decision.document_number),
        ("PUSHED", None, None),
        ("NOTICE_SENT", "REVOKE", None),
        ("NOTICE_REVIEW_STARTED", None, None),
        ("NOTICE_MEETING_SCHEDULED", None, None),
        ("NOTICE_DECIDED", "ACCEPTED", None),
        ("STATUS_CHANGED", "REVOKED", "济审批撤〔2026〕3号"),
    ]


async def test_a_rejected_notice_changes_nothing_and_a_late_reply_stays_late(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    notice = await sent(gql, w, decision, "AMEND")
    await ok(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 8))
    decided = await ok(
        gql,
        DECIDE,
        {"input": {"id": notice["id"], "outcome": "REJECTED", "reasons": "证据不足"}},
        w.issuer,
        f.at(2026, 10, 21),
    )
    assert (decided["notice"]["outcome"], decided["notice"]["repliedLate"]) == ("REJECTED", True)
    assert (await Decision.get(id=decision.id)).status is DecisionStatus.VALID
    assert await Event.filter(kind=EventKind.DECISION_STATUS_CHANGED).count() == 0


async def test_illegal_notice_steps_and_decision_transitions_are_typed_errors(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    notice = await sent(gql, w, decision, "WITHDRAW")
    decide = {
        "id": notice["id"],
        "outcome": "ACCEPTED",
        "reasons": "同意",
        "disposition": {**DISPOSITION, "decidedOn": "2026-10-09"},
    }
    # Deciding before the review has started.
    assert await errors_of(gql, DECIDE, {"input": decide}, w.issuer, f.at(2026, 10, 9)) == [
        ("ILLEGAL_TRANSITION", "id")
    ]
    meeting = {"id": notice["id"], "at": "2026-10-15T09:30:00+08:00", "place": "会议室"}
    assert await errors_of(gql, MEETING, meeting, w.issuer, f.at(2026, 10, 9)) == [("ILLEGAL_TRANSITION", "id")]
    await ok(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 9))
    # A meeting in the past, or without a place, is refused per field (a time without offset is Beijing time).
    past = {"id": notice["id"], "at": "2026-10-09T09:59:00", "place": " "}
    assert sorted(await errors_of(gql, MEETING, past, w.issuer, f.at(2026, 10, 9))) == [
        ("DATE_IN_PAST", "meetingAt"),
        ("REQUIRED", "place"),
    ]
    assert await errors_of(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 9)) == [
        ("ILLEGAL_TRANSITION", "id")
    ]
    # Accepting a disposition needs its document.
    no_doc = {**decide, "disposition": None}
    assert await errors_of(gql, DECIDE, {"input": no_doc}, w.issuer, f.at(2026, 10, 9)) == [("REQUIRED", "disposition")]
    bad_doc = {**decide, "disposition": {"documentNumber": "", "decidedOn": "2026-10-30"}}
    assert sorted(await errors_of(gql, DECIDE, {"input": bad_doc}, w.issuer, f.at(2026, 10, 9))) == [
        ("DATE_IN_FUTURE", "disposition.decidedOn"),
        ("REQUIRED", "disposition.documentNumber"),
    ]
    # Meanwhile the issuer revokes the decision itself: the withdrawal can no longer be accepted.
    revoke = {
        "decisionId": gid("ApprovalDecision", decision.id),
        "status": "REVOKED",
        "disposition": {**DISPOSITION, "decidedOn": "2026-10-09"},
    }
    assert (await ok(gql, CHANGE, {"input": revoke}, w.issuer, f.at(2026, 10, 9)))["decision"] == {"status": "REVOKED"}
    assert await errors_of(
        gql, DECIDE, {"input": {**decide, "disposition": revoke["disposition"]}}, w.issuer, f.at(2026, 10, 9)
    ) == [("ILLEGAL_TRANSITION", "outcome")]
    assert (await Notice.get(id=(await Notice.get()).id)).status is NoticeStatus.UNDER_REVIEW
    amend = {**revoke, "status": "AMENDED"}
    assert await errors_of(gql, CHANGE, {"input": amend}, w.issuer, f.at(2026, 10, 9)) == [
        ("ILLEGAL_TRANSITION", "status")
    ]
    # And no new notice asks to dispose of a decision no longer in force.
    assert await errors_of(
        gql, SEND, {"input": notice_input(decision, "CANCEL")}, w.market_officer, f.at(2026, 10, 9)
    ) == [("ILLEGAL_TRANSITION", "decisionId")]
    assert await DecisionStatusChange.all().count() == 1


async def test_the_issuer_amends_then_cancels_a_decision_itself(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    change = {"decisionId": gid("ApprovalDecision", decision.id), "status": "AMENDED", "disposition": DISPOSITION}
    for _ in range(2):  # an amended decision is still in force and may be amended again
        assert (await ok(gql, CHANGE, {"input": change}, w.issuer, f.at(2026, 10, 21)))["decision"] == {
            "status": "AMENDED"
        }
    cancelled = await ok(gql, CHANGE, {"input": {**change, "status": "CANCELLED"}}, w.issuer, f.at(2026, 10, 21))
    assert cancelled["decision"] == {"status": "CANCELLED"}
    assert len(await audience(EventKind.DECISION_STATUS_CHANGED)) == 3
    assert await audience(EventKind.DECISION_STATUS_CHANGED) == [sorted([w.city.id, w.market.id, w.health.id])] * 3
    expired = await errors_of(gql, CHANGE, {"input": {**change, "status": "EXPIRED"}}, w.issuer, f.at(2026, 10, 21))
    assert expired == [("ILLEGAL_TRANSITION", "status")]


async def test_only_the_issuers_handlers_change_a_decision(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    change = {"decisionId": gid("ApprovalDecision", decision.id), "status": "WITHDRAWN", "disposition": DISPOSITION}
    assert await errors_of(gql, CHANGE, {"input": change}, w.market_officer, f.at(2026, 10, 21)) == [
        ("FORBIDDEN", "decisionId")
    ]
    assert await errors_of(gql, CHANGE, {"input": change}, w.county_issuer, f.at(2026, 10, 21)) == [
        ("DECISION_NOT_FOUND", "decisionId")
    ]
    leader = await f.user(w.city, Role.LEADER)
    assert await errors_of(gql, CHANGE, {"input": change}, leader, f.at(2026, 10, 21)) == [("FORBIDDEN", None)]
    anonymous = await gql(CHANGE, {"input": change}, user=None, now=f.at(2026, 10, 21))
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert (await Decision.get(id=decision.id)).status is DecisionStatus.VALID


async def test_art_34_the_approval_side_tells_a_supervision_department_a_penalty_is_due(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    base = notice_input(decision, "PENALTY", reasons="申请人隐瞒有关情况，应予处罚")
    assert await errors_of(gql, SEND, {"input": base}, w.issuer, f.at(2026, 10, 9)) == [
        ("REQUIRED", "recipientDepartmentId")
    ]
    wrong_kind = {**base, "kind": "REVOKE", "recipientDepartmentId": gid("Department", w.market.id)}
    assert await errors_of(gql, SEND, {"input": wrong_kind}, w.issuer, f.at(2026, 10, 9)) == [
        ("KIND_NOT_ALLOWED", "kind")
    ]
    to_approval = {**base, "recipientDepartmentId": gid("Department", w.county.id)}
    assert await errors_of(gql, SEND, {"input": to_approval}, w.issuer, f.at(2026, 10, 9)) == [
        ("DEPARTMENT_NOT_FOUND", "recipientDepartmentId")
    ]
    assert await errors_of(
        gql, SEND, {"input": notice_input(decision, "PENALTY")}, w.market_officer, f.at(2026, 10, 9)
    ) == [("KIND_NOT_ALLOWED", "kind")]
    payload = await ok(
        gql,
        SEND,
        {"input": {**base, "recipientDepartmentId": gid("Department", w.market.id)}},
        w.issuer,
        f.at(2026, 10, 9),
    )
    notice = payload["notice"]
    assert (notice["direction"], notice["sender"], notice["recipient"]) == (
        "TO_SUPERVISION",
        {"code": "CITY-APPROVAL"},
        {"code": "CITY-MARKET"},
    )
    assert [(d["kind"], d["department"]["code"]) for d in notice["deadlines"]] == [("NOTICE_REPLY", "CITY-MARKET")]
    # The supervision department reviews and accepts; the decision itself does not change.
    await ok(gql, REVIEW, {"id": notice["id"]}, w.market_officer, f.at(2026, 10, 12))
    assert await errors_of(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 12)) == [("FORBIDDEN", "id")]
    done = await ok(
        gql,
        DECIDE,
        {"input": {"id": notice["id"], "outcome": "ACCEPTED", "reasons": "已立案查处"}},
        w.market_officer,
        f.at(2026, 10, 13),
    )
    assert (done["notice"]["status"], done["notice"]["decision"]["status"]) == ("DECIDED", "VALID")
    assert await Obligation.filter(status=ObligationStatus.DONE).count() == 1


async def test_notices_are_seen_by_their_two_departments_only(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    notice = await sent(gql, w, decision)
    penalty = notice_input(decision, "PENALTY", recipientDepartmentId=gid("Department", w.health.id))
    await ok(gql, SEND, {"input": penalty}, w.issuer, f.at(2026, 10, 9))

    async def seen(user: User, **variables: Any) -> list[str]:
        result = await gql(LIST, {"direction": None, "status": None, **variables}, user=user, now=f.at(2026, 10, 9))
        assert result["errors"] == []
        return [e["node"]["kind"] for e in result["data"]["notices"]["edges"]]

    assert await seen(w.issuer) == ["REVOKE", "PENALTY"]
    assert await seen(w.issuer, direction="TO_SUPERVISION") == ["PENALTY"]
    assert await seen(w.market_officer) == ["REVOKE"]
    assert await seen(w.health_officer) == ["PENALTY"]
    assert await seen(w.county_issuer) == []
    assert await seen(w.admin, status="RECEIVED") == ["REVOKE", "PENALTY"]
    node = "query($id: ID!) { node(id: $id) { ... on Notice { kind } } }"
    for user, visible in ((w.issuer, True), (w.market_officer, True), (w.health_officer, False)):
        result = await gql(node, {"id": notice["id"]}, user=user, now=f.at(2026, 10, 9))
        assert (result["data"]["node"] is not None) is visible
    # Nor may another department act on it.
    assert await errors_of(gql, REVIEW, {"id": notice["id"]}, w.health_officer, f.at(2026, 10, 9)) == [
        ("NOTICE_NOT_FOUND", "id")
    ]


async def test_notice_input_errors_name_their_fields(gql: Gql) -> None:
    w = await world()
    decision = await decision_of(w)
    other = await f.decision(w.county_issuer, w.item, now=f.at(2026, 9, 1), number="任审批〔2026〕1号")
    cases: list[tuple[dict[str, Any], list[tuple[str, Any]]]] = [
        (notice_input(decision, reasons=" "), [("REQUIRED", "reasons")]),
        (notice_input(decision, documentNumber="x" * 65), [("TOO_LONG", "documentNumber")]),
        (notice_input(other), [("DECISION_NOT_FOUND", "decisionId")]),
        (
            notice_input(decision, recipientDepartmentId=gid("Department", w.county.id)),
            [("NOT_THE_ISSUER", "recipientDepartmentId")],
        ),
        (notice_input(decision, evidenceFileIds=[gid("EvidenceFile", 3)]), [("FILE_NOT_FOUND", "evidenceFileIds.0")]),
    ]
    for data, expected in cases:
        assert await errors_of(gql, SEND, {"input": data}, w.market_officer, f.at(2026, 10, 9)) == expected, data
    assert (await Notice.all().count(), await Obligation.all().count()) == (0, 0)
