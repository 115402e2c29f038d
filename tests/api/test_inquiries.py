"""Inquiry letters (Art. 25) end to end through the schema: thread, deadlines, closing, scoping, events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.account import Department, User
from models.enums import DepartmentKind, Role
from models.event import Event, EventRecipient
from models.inquiry import Inquiry, InquiryMessage
from models.obligation import Obligation
from tests import factories as f
from tests.api.conftest import Gql

SENT = f.at(2026, 9, 30)  # the day before the National Day week


@dataclass
class LiaisonWorld:
    """An approval bureau and three supervision departments, each with a liaison officer and an officer."""

    approval: Department
    market: Department
    health: Department
    other: Department
    approval_liaison: User
    approval_officer: User
    market_liaison: User
    market_officer: User
    health_liaison: User
    other_liaison: User
    leader: User
    admin: User


@pytest.fixture
async def lw(db: str) -> LiaisonWorld:
    approval = await f.department(DepartmentKind.APPROVAL, name="行政审批服务局")
    market = await f.department(name="市场监督管理局")
    health = await f.department(name="卫生健康委员会")
    other = await f.department(name="住房和城乡建设局")
    return LiaisonWorld(
        approval=approval,
        market=market,
        health=health,
        other=other,
        approval_liaison=await f.user(approval, Role.LIAISON),
        approval_officer=await f.user(approval, Role.OFFICER),
        market_liaison=await f.user(market, Role.LIAISON),
        market_officer=await f.user(market, Role.OFFICER),
        health_liaison=await f.user(health, Role.LIAISON),
        other_liaison=await f.user(other, Role.LIAISON),
        leader=await f.user(approval, Role.LEADER),
        admin=await f.user(await f.department(), Role.ADMIN),
    )


def dep(d: Department) -> str:
    return to_global_id("Department", d.id)


async def audience(kind: str) -> list[list[int]]:
    out = []
    for event in await Event.filter(kind=kind).order_by("id"):
        rows = await EventRecipient.filter(event_id=event.id).order_by("department_id")
        out.append([r.department_id for r in rows])
    return out


async def ok(gql: Gql, query: str, variables: dict[str, Any], user: User | None, now: Any = SENT) -> dict[str, Any]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    payload = dict(next(iter(result["data"].values())))
    assert payload.get("errors", []) == [], payload
    return payload


async def errors_of(gql: Gql, query: str, variables: dict[str, Any], user: User | None, now: Any = SENT) -> list[Any]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result
    return [(e["field"], e["code"]) for e in next(iter(result["data"].values()))["errors"]]


INQUIRY = """id status subject topic replyWorkingDays sender { name } receivers { department { name } answeredAt }
  messages { position kind department { name } body }
  deadlines { kind dueOn status doneLate department { name } }"""
SEND = f"""mutation($i: SendInquiryInput!) {{ sendInquiry(input: $i) {{ inquiry {{ {INQUIRY} }}
  errors {{ code field message }} }} }}"""
REPLY = f"""mutation($id: ID!, $b: String!) {{ replyToInquiry(id: $id, body: $b) {{ inquiry {{ {INQUIRY} }}
  errors {{ code field message }} }} }}"""
CLOSE = (
    f"""mutation($id: ID!) {{ closeInquiry(id: $id) {{ inquiry {{ {INQUIRY} }} errors {{ code field message }} }} }}"""
)
LIST = "query { inquiries { totalCount edges { node { subject } } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on Inquiry { subject } } }"


def send_input(w: LiaisonWorld, **extra: Any) -> dict[str, Any]:
    return {
        "receiverIds": [dep(w.market), dep(w.health)],
        "topic": "ITEM_STANDARD",
        "subject": "食品经营许可现场核查标准",
        "body": "请说明贵局对小餐饮现场核查的具体标准。",
        **extra,
    }


async def test_an_inquiry_is_answered_followed_up_and_closed_in_order(gql: Gql, lw: LiaisonWorld) -> None:
    sent = (await ok(gql, SEND, {"i": send_input(lw)}, lw.approval_officer))["inquiry"]
    # Five working days from 2026-09-30 skip the National Day week: 10-08, 09, 10 (make-up Saturday), 12, 13.
    assert [(d["department"]["name"], d["dueOn"], d["status"]) for d in sent["deadlines"]] == [
        ("市场监督管理局", "2026-10-13", "OPEN"),
        ("卫生健康委员会", "2026-10-13", "OPEN"),
    ]
    assert sent["messages"] == [
        {"position": 1, "kind": "QUESTION", "department": {"name": "行政审批服务局"}, "body": send_input(lw)["body"]}
    ]
    assert await audience("INQUIRY_SENT") == [
        sorted([lw.approval.id, lw.market.id]),
        sorted([lw.approval.id, lw.health.id]),
    ]

    answered = (
        await ok(gql, REPLY, {"id": sent["id"], "b": "按照总局规范执行。"}, lw.market_officer, f.at(2026, 10, 9))
    )["inquiry"]
    followed = (await ok(gql, REPLY, {"id": sent["id"], "b": "请补充依据文号。"}, lw.approval_officer))["inquiry"]
    again = (await ok(gql, REPLY, {"id": sent["id"], "b": "见附件。"}, lw.market_liaison))["inquiry"]
    assert [(m["position"], m["kind"]) for m in again["messages"]] == [
        (1, "QUESTION"),
        (2, "ANSWER"),
        (3, "FOLLOW_UP"),
        (4, "FOLLOW_UP"),
    ]
    # A receiver sees its own deadline only; the sender watches both.
    assert [d["status"] for d in answered["deadlines"]] == ["DONE"]
    assert [d["status"] for d in followed["deadlines"]] == ["DONE", "OPEN"]
    assert followed["receivers"][0]["answeredAt"] is not None and followed["receivers"][1]["answeredAt"] is None

    closed = (await ok(gql, CLOSE, {"id": sent["id"]}, lw.approval_officer))["inquiry"]
    assert closed["status"] == "CLOSED"
    assert [d["status"] for d in closed["deadlines"]] == ["DONE", "CANCELLED"]
    assert await audience("INQUIRY_CLOSED") == [sorted([lw.approval.id, lw.market.id, lw.health.id])]
    assert await errors_of(gql, REPLY, {"id": sent["id"], "b": "再问"}, lw.health_liaison) == [("id", "INQUIRY_CLOSED")]


async def test_a_late_answer_stays_recorded_late_and_the_term_is_configurable(gql: Gql, lw: LiaisonWorld) -> None:
    sent = (await ok(gql, SEND, {"i": send_input(lw, replyWorkingDays=3)}, lw.approval_officer))["inquiry"]
    assert {d["dueOn"] for d in sent["deadlines"]} == {"2026-10-10"}  # the make-up Saturday
    await ok(gql, REPLY, {"id": sent["id"], "b": "迟复"}, lw.health_liaison, f.at(2026, 10, 12))
    node = "query($id: ID!) { node(id: $id) { ... on Inquiry { deadlines { department { name } status doneLate } } } }"
    seen = (await gql(node, {"id": sent["id"]}, user=lw.approval_officer))["data"]["node"]
    assert [(d["department"]["name"], d["status"], d["doneLate"]) for d in seen["deadlines"]] == [
        ("市场监督管理局", "OPEN", False),
        ("卫生健康委员会", "DONE", True),
    ]


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"receiverIds": []}, "receiverIds", "REQUIRED"),
        ({"receiverIds": ["bm90LWFuLWlk"]}, "receiverIds.0", "INVALID_ID"),
        ({"receiverIds": [to_global_id("Department", 999999)]}, "receiverIds", "DEPARTMENT_NOT_FOUND"),
        ({"subject": "  "}, "subject", "REQUIRED"),
        ({"subject": "长" * 201}, "subject", "TOO_LONG"),
        ({"body": ""}, "body", "REQUIRED"),
        ({"body": "x\x00"}, "body", "INVALID_CHARACTERS"),
        ({"replyWorkingDays": 0}, "replyWorkingDays", "INVALID_TERM"),
        ({"replyWorkingDays": 31}, "replyWorkingDays", "INVALID_TERM"),
        ({"itemId": to_global_id("ApprovalItem", 999999)}, "itemId", "ITEM_NOT_FOUND"),
        ({"decisionId": to_global_id("ApprovalDecision", 999999)}, "decisionId", "DECISION_NOT_FOUND"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    gql: Gql, lw: LiaisonWorld, extra: dict[str, Any], field: str, code: str
) -> None:
    assert await errors_of(gql, SEND, {"i": send_input(lw, **extra)}, lw.approval_officer) == [(field, code)]
    assert await Inquiry.all().count() == 0
    assert await Obligation.all().count() == 0
    assert await Event.all().count() == 0


async def test_sending_to_ones_own_department_is_refused(gql: Gql, lw: LiaisonWorld) -> None:
    variables = {"i": send_input(lw, receiverIds=[dep(lw.approval)])}
    assert await errors_of(gql, SEND, variables, lw.approval_officer) == [("receiverIds", "SELF_ADDRESSED")]


async def test_permissions_and_scoping(gql: Gql, lw: LiaisonWorld) -> None:
    anonymous = await gql(SEND, {"i": send_input(lw)}, user=None, now=SENT)
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    sent = (await ok(gql, SEND, {"i": send_input(lw)}, lw.approval_officer))["inquiry"]
    # A department that is neither sender nor receiver sees nothing and cannot write into the thread.
    assert (await gql(LIST, user=lw.other_liaison))["data"]["inquiries"]["totalCount"] == 0
    assert (await gql(NODE, {"id": sent["id"]}, user=lw.other_liaison))["data"]["node"] is None
    assert await errors_of(gql, REPLY, {"id": sent["id"], "b": "插话"}, lw.other_liaison) == [
        ("id", "INQUIRY_NOT_FOUND")
    ]
    # Only the sender closes.
    assert await errors_of(gql, CLOSE, {"id": sent["id"]}, lw.market_liaison) == [("id", "FORBIDDEN")]
    for viewer in (lw.approval_liaison, lw.market_officer, lw.health_liaison, lw.admin):
        assert (await gql(LIST, user=viewer))["data"]["inquiries"]["totalCount"] == 1
        assert (await gql(NODE, {"id": sent["id"]}, user=viewer))["data"]["node"] == {"subject": sent["subject"]}
    assert await InquiryMessage.all().count() == 1
