"""Expert and agency pools through the schema (Art. 22): proposal, review state machine, masking, scoping."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import connections

from models.enums import PoolStatus
from models.identifiers import mask_citizen_id
from models.pool import Agency, Expert, conflicts_of
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.oversight import COMPANY_CODE, PERSON_ID, World, call, codes, events, gid, world

EXPERT = "id name field title employer phone status statusReason isAvailable conflicts recommendedBy { code }"
PROPOSE = f"""mutation($input: ProposeExpertInput!) {{
  proposeExpert(input: $input) {{ expert {{ {EXPERT} }} errors {{ code field message }} }} }}"""
RECOMMEND = f"mutation($id: ID!) {{ recommendExpert(id: $id) {{ expert {{ {EXPERT} }} errors {{ code field }} }} }}"
SET_STATUS = f"""mutation($id: ID!, $status: PoolStatus!, $reason: String) {{
  setExpertStatus(id: $id, status: $status, reason: $reason) {{ expert {{ {EXPERT} }} errors {{ code field }} }} }}"""
EXPERTS = "query { experts { totalCount edges { node { name status } } } }"
AGENCY = "id name creditCode qualification validFrom validUntil status statusReason"
PROPOSE_AGENCY = f"""mutation($input: ProposeAgencyInput!) {{
  proposeAgency(input: $input) {{ agency {{ {AGENCY} }} errors {{ code field }} }} }}"""
SET_AGENCY = f"""mutation($id: ID!, $status: PoolStatus!, $reason: String) {{
  setAgencyStatus(id: $id, status: $status, reason: $reason) {{ agency {{ {AGENCY} }} errors {{ code field }} }} }}"""
AGENCIES = "query { agencies { totalCount edges { node { name status } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
NOW = f.at(2026, 9, 29)


def expert_input(w: World, **overrides: Any) -> dict[str, Any]:
    return {
        "poolDepartmentId": gid("Department", w.approval.id),
        "name": "李明",
        "field": "食品安全",
        "title": "高级工程师",
        "employer": "济宁市食品检验所",
        "phone": "13953712345",
        "conflicts": [COMPANY_CODE, PERSON_ID.lower()],
        **overrides,
    }


async def test_expert_is_proposed_recommended_approved_suspended_and_reinstated(gql: Gql) -> None:
    w = await world()
    proposed = await call(gql, PROPOSE, {"input": expert_input(w)}, w.market_officer, NOW)
    assert proposed["errors"] == []
    expert = proposed["expert"]
    assert expert == {
        "id": expert["id"],
        "name": "李明",
        "field": "食品安全",
        "title": "高级工程师",
        "employer": "济宁市食品检验所",
        "phone": "139****2345",
        "status": "PROPOSED",
        "statusReason": None,
        "isAvailable": True,
        "conflicts": [mask_citizen_id(c) if c == PERSON_ID else c for c in sorted([COMPANY_CODE, PERSON_ID])],
        "recommendedBy": [{"code": "CITY-MARKET"}],
    }
    row = await Expert.get()
    assert (row.phone, conflicts_of(row)) == ("13953712345", sorted([COMPANY_CODE, PERSON_ID]))
    _, raw = await connections.get("default").execute_query("SELECT phone, conflicts FROM pool_expert")
    assert PERSON_ID not in str(raw[0]["conflicts"]) and "13953712345" not in str(raw[0]["phone"])  # sealed at rest
    assert [(e[1], e[3]) for e in await events("EXPERT_PROPOSED")] == [(row.id, sorted([w.approval.id, w.market.id]))]

    again = await call(gql, RECOMMEND, {"id": expert["id"]}, w.health_officer, NOW)
    assert [d["code"] for d in again["expert"]["recommendedBy"]] == ["CITY-MARKET", "CITY-HEALTH"]

    steps = [
        ("APPROVED", None, []),
        ("SUSPENDED", None, [("REQUIRED", "reason")]),
        ("SUSPENDED", "近期出国", []),
        ("APPROVED", None, []),
        ("REJECTED", "重复", [("INVALID_TRANSITION", "status")]),
    ]
    for status, reason, errors in steps:
        payload = await call(gql, SET_STATUS, {"id": expert["id"], "status": status, "reason": reason}, w.officer, NOW)
        assert codes(payload) == errors
    row = await Expert.get()
    assert (row.status, row.status_reason) == (PoolStatus.APPROVED, None)
    changed = await events("EXPERT_STATUS_CHANGED")
    assert [e[2]["status"] for e in changed] == ["APPROVED", "SUSPENDED", "APPROVED"]
    assert changed[0][3] == sorted([w.approval.id, w.market.id, w.health.id])


async def test_only_the_pool_department_reviews_and_rejected_is_final(gql: Gql) -> None:
    w = await world()
    expert = (await call(gql, PROPOSE, {"input": expert_input(w)}, w.market_officer, NOW))["expert"]
    market = await call(gql, SET_STATUS, {"id": expert["id"], "status": "APPROVED"}, w.market_officer, NOW)
    assert codes(market) == [("FORBIDDEN", "id")]
    county = await call(gql, SET_STATUS, {"id": expert["id"], "status": "APPROVED"}, w.county_officer, NOW)
    assert codes(county) == [("EXPERT_NOT_FOUND", "id")]
    leader = await gql(SET_STATUS, {"id": expert["id"], "status": "APPROVED"}, user=w.leader, now=NOW)
    assert [e["code"] for e in leader["errors"]] == ["FORBIDDEN"]
    rejected = await call(gql, SET_STATUS, {"id": expert["id"], "status": "REJECTED", "reason": "资质不符"}, w.officer)
    assert rejected["expert"]["status"] == "REJECTED"
    back = await call(gql, SET_STATUS, {"id": expert["id"], "status": "APPROVED"}, w.officer, NOW)
    assert codes(back) == [("INVALID_TRANSITION", "status")]
    assert (await Expert.get()).status is PoolStatus.REJECTED


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"name": "  "}, ("REQUIRED", "name")),
        ({"field": ""}, ("REQUIRED", "field")),
        ({"title": "职" * 65}, ("TOO_LONG", "title")),
        ({"employer": "单位\x00"}, ("INVALID_CHARACTERS", "employer")),
        ({"phone": "12345"}, ("INVALID_PHONE", "phone")),
        ({"conflicts": [COMPANY_CODE, "91370800MA3C4D5E60"]}, ("INVALID_IDENTIFIER", "conflicts.1")),
        ({"poolDepartmentId": "market"}, ("DEPARTMENT_NOT_FOUND", "poolDepartmentId")),
        ({"poolDepartmentId": "bad-id"}, ("INVALID_ID", "poolDepartmentId")),
    ],
)
async def test_bad_expert_input_names_the_field_and_writes_nothing(
    gql: Gql, override: dict[str, Any], error: tuple[str, str]
) -> None:
    w = await world()
    if override.get("poolDepartmentId") == "market":
        override = {"poolDepartmentId": gid("Department", w.market.id)}
    payload = await call(gql, PROPOSE, {"input": expert_input(w, **override)}, w.market_officer, NOW)
    assert (payload["expert"], codes(payload)) == (None, [error])
    assert await Expert.all().count() == 0
    assert await events("EXPERT_PROPOSED") == []


async def test_who_may_propose_an_expert(gql: Gql) -> None:
    w = await world()
    anonymous = await gql(PROPOSE, {"input": expert_input(w)}, user=None, now=NOW)
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    integration = await gql(PROPOSE, {"input": expert_input(w)}, user=w.integration, now=NOW)
    assert [e["code"] for e in integration["errors"]] == ["FORBIDDEN"]
    approval_side = await call(gql, PROPOSE, {"input": expert_input(w)}, w.officer, NOW)
    assert codes(approval_side) == [("FORBIDDEN", None)]
    assert await Expert.all().count() == 0


async def test_experts_and_agencies_are_scoped(gql: Gql) -> None:
    w = await world()
    await call(gql, PROPOSE, {"input": expert_input(w, name="甲")}, w.market_officer, NOW)
    health = await call(gql, PROPOSE, {"input": expert_input(w, name="乙")}, w.health_officer, NOW)
    await call(gql, PROPOSE_AGENCY, {"input": agency_input(w)}, w.market_officer, NOW)

    async def names(query: str, user: Any) -> list[str]:
        data = (await gql(query, user=user, now=NOW))["data"]
        return [e["node"]["name"] for e in next(iter(data.values()))["edges"]]

    assert await names(EXPERTS, w.officer) == ["甲", "乙"]
    assert await names(EXPERTS, w.admin) == ["甲", "乙"]
    assert await names(EXPERTS, w.market_officer) == ["甲"]
    assert await names(EXPERTS, w.outsider_officer) == []
    assert await names(EXPERTS, w.county_officer) == []
    assert await names(AGENCIES, w.officer) == ["济宁华信检测有限公司"]
    assert await names(AGENCIES, w.health_officer) == []
    for user, seen in ((w.health_officer, True), (w.market_officer, False), (w.outsider_officer, False)):
        node = (await gql(NODE, {"id": health["expert"]["id"]}, user=user, now=NOW))["data"]["node"]
        assert (node is not None) is seen


def agency_input(w: World, **overrides: Any) -> dict[str, Any]:
    return {
        "poolDepartmentId": gid("Department", w.approval.id),
        "name": "济宁华信检测有限公司",
        "creditCode": COMPANY_CODE.lower(),
        "qualification": "CMA 检验检测机构资质认定",
        "validFrom": "2026-01-01",
        "validUntil": "2029-12-31",
        **overrides,
    }


async def test_agency_is_validated_approved_and_suspended(gql: Gql) -> None:
    w = await world()
    bad = await call(
        gql,
        PROPOSE_AGENCY,
        {"input": agency_input(w, creditCode="91370800MA3C4D5E60", validFrom="2030-01-01", qualification="")},
        w.market_officer,
        NOW,
    )
    assert sorted(codes(bad)) == [
        ("INVALID_CREDIT_CODE", "creditCode"),
        ("INVALID_VALIDITY", "validUntil"),
        ("REQUIRED", "qualification"),
    ]
    assert await Agency.all().count() == 0
    agency = (await call(gql, PROPOSE_AGENCY, {"input": agency_input(w)}, w.market_officer, NOW))["agency"]
    assert (agency["creditCode"], agency["status"]) == (COMPANY_CODE, "PROPOSED")
    approved = await call(gql, SET_AGENCY, {"id": agency["id"], "status": "APPROVED"}, w.officer, NOW)
    suspended = await call(
        gql, SET_AGENCY, {"id": agency["id"], "status": "SUSPENDED", "reason": "资质过期"}, w.officer
    )
    assert (approved["agency"]["status"], suspended["agency"]["statusReason"]) == ("APPROVED", "资质过期")
    for user, seen in ((w.officer, True), (w.market_officer, True), (w.health_officer, False)):
        assert ((await gql(NODE, {"id": agency["id"]}, user=user))["data"]["node"] is not None) is seen
    row = await Agency.get()
    assert [(e[2], e[3]) for e in await events("AGENCY_STATUS_CHANGED")] == [
        ({"agencyId": row.id, "status": status}, sorted([w.approval.id, w.market.id]))
        for status in ("APPROVED", "SUSPENDED")
    ]
