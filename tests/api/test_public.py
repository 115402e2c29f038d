"""Opinions and reports from the public (Art. 35) end to end: open intake, tracking, routing, reply, scoping."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.graphql.base import to_global_id
from api.graphql.public import INTAKE_LIMIT
from api.services import Services
from models.event import Event
from models.identifiers import make_credit_code
from models.public import PublicSubmission
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_inquiries import LiaisonWorld, audience, dep, errors_of, lw, ok

__all__ = ["lw"]
NOW = f.at(2026, 9, 30)
SUBMIT = """mutation($i: SubmitPublicOpinionInput!) { submitPublicOpinion(input: $i) {
  receipt { trackingNumber secret } errors { code field message } } }"""
STATUS = """query($n: String!, $s: String!) { publicSubmissionStatus(trackingNumber: $n, secret: $s) {
  trackingNumber status departmentName reply repliedAt } }"""
STAFF = """id trackingNumber status anonymous contactName contactPhone aboutHolderName department { name }
  deadlines { dueOn status } reply"""
LIST = f"query {{ publicSubmissions {{ totalCount edges {{ node {{ {STAFF} }} }} }} }}"
ROUTE = f"""mutation($id: ID!, $d: ID!) {{ routePublicSubmission(id: $id, departmentId: $d) {{
  publicSubmission {{ {STAFF} }} errors {{ code field message }} }} }}"""
REPLY = f"""mutation($id: ID!, $r: String!) {{ replyToPublicSubmission(id: $id, reply: $r) {{
  publicSubmission {{ {STAFF} }} errors {{ code field message }} }} }}"""
NODE = "query($id: ID!) { node(id: $id) { ... on PublicSubmission { trackingNumber } } }"


def opinion(**extra: Any) -> dict[str, Any]:
    return {"kind": "REPORT", "subject": "无证经营", "content": "某餐馆未取得许可即营业。", "anonymous": True, **extra}


async def submit(gql: Gql, **extra: Any) -> dict[str, Any]:
    return dict((await ok(gql, SUBMIT, {"i": opinion(**extra)}, None, NOW))["receipt"])


async def listed(gql: Gql, user: Any) -> list[dict[str, Any]]:
    data = (await gql(LIST, user=user, now=NOW))["data"]["publicSubmissions"]
    return [e["node"] for e in data["edges"]]


async def test_an_anonymous_report_about_an_item_goes_to_its_first_supervisor_and_the_reply_reaches_the_submitter(
    gql: Gql, lw: LiaisonWorld
) -> None:
    item = await f.item(lw.market, lw.health)
    receipt = await submit(
        gql,
        anonymous=True,
        contactName="王五",
        contactPhone="13853712345",
        aboutItemId=to_global_id("ApprovalItem", item.id),
        aboutHolderName="济宁某餐馆",
        aboutHolderCreditCode=make_credit_code("91370800MA3C4D5E6"),
    )
    assert re.fullmatch(r"GZ-2026-\d{6}", receipt["trackingNumber"])
    assert len(receipt["secret"]) >= 20
    row = await PublicSubmission.get()
    assert row.secret_hash != receipt["secret"] and receipt["secret"] not in row.secret_hash
    assert (row.contact_name, row.contact_phone) == (None, None)  # anonymous: never stored

    [seen] = await listed(gql, lw.market_officer)
    # Ten working days from 2026-09-30 across the National Day week: 2026-10-20.
    assert (seen["status"], seen["department"], seen["deadlines"]) == (
        "ROUTED",
        {"name": "市场监督管理局"},
        [{"dueOn": "2026-10-20", "status": "OPEN"}],
    )
    assert (seen["anonymous"], seen["contactName"], seen["contactPhone"]) == (True, None, None)
    assert await audience("PUBLIC_SUBMISSION_ROUTED") == [[lw.market.id]]
    assert await listed(gql, lw.health_liaison) == []

    number, secret = receipt["trackingNumber"], receipt["secret"]
    status = (await gql(STATUS, {"n": number, "s": secret}))["data"]["publicSubmissionStatus"]
    assert (status["status"], status["departmentName"], status["reply"]) == ("ROUTED", "市场监督管理局", None)
    for wrong in ({"n": number, "s": secret[:-1] + "x"}, {"n": "GZ-2026-999999", "s": secret}, {"n": number, "s": ""}):
        assert (await gql(STATUS, wrong))["data"]["publicSubmissionStatus"] is None

    replied = await ok(gql, REPLY, {"id": seen["id"], "r": "已立案调查。"}, lw.market_officer, f.at(2026, 10, 9))
    assert replied["publicSubmission"]["deadlines"] == [{"dueOn": "2026-10-20", "status": "DONE"}]
    assert await audience("PUBLIC_SUBMISSION_REPLIED") == [[lw.market.id]]
    status = (await gql(STATUS, {"n": number, "s": secret}))["data"]["publicSubmissionStatus"]
    assert (status["status"], status["reply"]) == ("REPLIED", "已立案调查。")
    again = await errors_of(gql, REPLY, {"id": seen["id"], "r": "再答"}, lw.market_officer)
    assert again == [("id", "ALREADY_REPLIED")]


async def test_an_opinion_without_an_item_is_routed_by_the_approval_bureau_and_contacts_are_masked(
    gql: Gql, lw: LiaisonWorld
) -> None:
    await submit(gql, kind="OPINION", anonymous=False, contactName="张三丰", contactPhone="13853712345")
    assert await audience("PUBLIC_SUBMISSION_RECEIVED") == [[lw.approval.id]]
    assert await listed(gql, lw.market_officer) == []
    [waiting] = await listed(gql, lw.approval_officer)
    assert (waiting["status"], waiting["contactName"], waiting["contactPhone"]) == ("RECEIVED", "张**", "138****2345")

    assert await errors_of(gql, ROUTE, {"id": waiting["id"], "d": dep(lw.health)}, lw.market_liaison) == [
        ("id", "FORBIDDEN")
    ]
    bad = await errors_of(
        gql, ROUTE, {"id": waiting["id"], "d": to_global_id("Department", 99999)}, lw.approval_officer
    )
    assert bad == [("departmentId", "DEPARTMENT_NOT_FOUND")]
    routed = (await ok(gql, ROUTE, {"id": waiting["id"], "d": dep(lw.health)}, lw.approval_officer))["publicSubmission"]
    assert (routed["status"], routed["department"]) == ("ROUTED", {"name": "卫生健康委员会"})
    assert await audience("PUBLIC_SUBMISSION_ROUTED") == [sorted([lw.approval.id, lw.health.id])]
    twice = await errors_of(gql, ROUTE, {"id": waiting["id"], "d": dep(lw.market)}, lw.approval_officer)
    assert twice == [("id", "ALREADY_ROUTED")]

    assert [s["trackingNumber"] for s in await listed(gql, lw.health_liaison)] == [waiting["trackingNumber"]]
    assert await listed(gql, lw.other_liaison) == []
    assert (await gql(NODE, {"id": waiting["id"]}, user=lw.other_liaison))["data"]["node"] is None
    assert await errors_of(gql, REPLY, {"id": waiting["id"], "r": "答"}, lw.market_liaison) == [
        ("id", "SUBMISSION_NOT_FOUND")
    ]
    assert await errors_of(gql, REPLY, {"id": waiting["id"], "r": " "}, lw.health_liaison) == [("reply", "REQUIRED")]
    anonymous = await gql(LIST, user=None)
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"subject": ""}, "subject", "REQUIRED"),
        ({"subject": "题" * 101}, "subject", "TOO_LONG"),
        ({"content": "内" * 5001}, "content", "TOO_LONG"),
        ({"content": "\x07"}, "content", "INVALID_CHARACTERS"),
        ({"anonymous": False}, "contactName", "REQUIRED"),
        ({"anonymous": True, "contactName": "名" * 51}, "contactName", "TOO_LONG"),
        ({"anonymous": True, "contactPhone": "12345"}, "contactPhone", "INVALID_PHONE"),
        ({"anonymous": True, "contactPhone": "1" * 21}, "contactPhone", "TOO_LONG"),
        ({"anonymous": True, "aboutHolderName": "商" * 129}, "aboutHolderName", "TOO_LONG"),
        (
            {"anonymous": True, "aboutHolderCreditCode": "91370800MA3C4D5E6X"},
            "aboutHolderCreditCode",
            "INVALID_CREDIT_CODE",
        ),
        ({"anonymous": True, "aboutItemId": to_global_id("ApprovalItem", 99999)}, "aboutItemId", "ITEM_NOT_FOUND"),
        ({"anonymous": True, "aboutItemId": "garbage"}, "aboutItemId", "INVALID_ID"),
        (
            {"anonymous": True, "aboutDepartmentId": to_global_id("Department", 99999)},
            "aboutDepartmentId",
            "DEPARTMENT_NOT_FOUND",
        ),
    ],
)
async def test_bad_input_per_field_writes_nothing(
    gql: Gql, lw: LiaisonWorld, extra: dict[str, Any], field: str, code: str
) -> None:
    assert await errors_of(gql, SUBMIT, {"i": opinion(**extra)}, None) == [(field, code)]
    assert await PublicSubmission.all().count() == 0
    assert await Event.all().count() == 0


async def test_the_intake_is_rate_limited_per_address_and_fails_closed(
    gql: Gql, lw: LiaisonWorld, services: Services
) -> None:
    for _ in range(INTAKE_LIMIT):
        await submit(gql, anonymous=True)
    over = await gql(SUBMIT, {"i": opinion(anonymous=True)}, now=NOW)
    errors = over["data"]["submitPublicOpinion"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("RATE_LIMITED", None)]
    assert "频繁" in errors[0]["message"]
    assert await PublicSubmission.all().count() == INTAKE_LIMIT
    ttl = await services.redis.ttl("public-intake:127.0.0.1")
    assert 0 < ttl <= 3600

    # A counter Redis cannot increment (any Redis failure): refused, not let through.
    await services.redis.set("public-intake:127.0.0.1", "not-a-number")
    broken = await gql(SUBMIT, {"i": opinion(anonymous=True)}, now=NOW)
    assert [e["code"] for e in broken["data"]["submitPublicOpinion"]["errors"]] == ["RATE_LIMITED"]
    assert await PublicSubmission.all().count() == INTAKE_LIMIT


async def test_tracking_numbers_are_unique(gql: Gql, lw: LiaisonWorld) -> None:
    numbers = {(await submit(gql, anonymous=True))["trackingNumber"] for _ in range(3)}
    assert len(numbers) == 3


async def test_the_intake_and_the_status_check_work_over_http_without_a_token(
    lw: LiaisonWorld, services: Services, settings: Any
) -> None:
    import httpx

    from api.app import create_app

    app = create_app(settings)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shenguan.test") as client:
        sent = await client.post("/graphql", json={"query": SUBMIT, "variables": {"i": opinion()}})
        receipt = sent.json()["data"]["submitPublicOpinion"]["receipt"]
        variables = {"n": receipt["trackingNumber"], "s": receipt["secret"]}
        status = await client.post("/graphql", json={"query": STATUS, "variables": variables})
        staff = await client.post("/graphql", json={"query": LIST})
    assert status.json()["data"]["publicSubmissionStatus"]["status"] == "RECEIVED"
    assert [e["extensions"]["code"] for e in staff.json()["errors"]] == ["UNAUTHENTICATED"]
