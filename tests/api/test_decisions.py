"""issueDecision through the schema (Art. 18, 20, 23): validation, routing, idempotency, masking, reveal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.account import Department, User
from models.audit import AuditRecord
from models.catalogue import ApprovalItem, create_approval_item
from models.decision import Decision, DecisionPush
from models.enums import AdminLevel, DepartmentKind, ResponsibilityKind, Role
from models.event import Event, EventKind, EventRecipient
from models.identifiers import make_citizen_id, make_credit_code
from tests import factories as f
from tests.api.conftest import Gql

CITIZEN_ID = make_citizen_id("370811", "19860214", 1)
CREDIT_CODE = make_credit_code("91370800MA3C4D5E6")
PUSH_FIELDS = (
    "id department { code } status pushedAt claimDueOn claimDeadline deadlineProvisional overdue "
    "claimedAt claimedBy { username } claimedLate returnReason"
)
DECISION_FIELDS = f"""
  id documentNumber channel status approvedOn validFrom validUntil content
  issuer {{ code }} item {{ code }}
  counterparty {{ name kind idNumber creditCode contactName phone address }}
  pushes {{ {PUSH_FIELDS} }}
"""
ISSUE = f"""
mutation Issue($input: IssueDecisionInput!) {{
  issueDecision(input: $input) {{ decision {{ {DECISION_FIELDS} }} errors {{ code field message }} }}
}}"""
DECISION = f"query($id: ID!) {{ node(id: $id) {{ ... on ApprovalDecision {{ {DECISION_FIELDS} }} }} }}"
DECISIONS = "{ decisions { totalCount edges { node { documentNumber counterparty { idNumber phone } } } } }"
REVEAL = """
mutation($id: ID!) { revealCounterparty(decisionId: $id) { counterparty { idNumber phone } errors { code field } } }"""


@dataclass
class World:
    """City and county approval bureaus of Jining and the supervision departments around them."""

    city: Department  # 济宁市行政审批服务局
    county: Department  # 任城区行政审批服务局 (370811)
    market: Department  # city market supervision
    health: Department  # city health commission
    county_market: Department  # 370811 market supervision
    other_county_market: Department  # 370812 market supervision
    issuer: User  # officer of the city bureau
    county_issuer: User
    market_officer: User
    health_officer: User
    other_officer: User  # officer of the other county, who sees nothing of the city's decisions
    admin: User
    admin_department: Department
    item: ApprovalItem  # supervised by all four supervision departments


async def world() -> World:
    city = await f.department(DepartmentKind.APPROVAL, code="CITY-APPROVAL")
    county = await f.department(DepartmentKind.APPROVAL, AdminLevel.COUNTY, "370811", code="RC-APPROVAL")
    market = await f.department(code="CITY-MARKET")
    health = await f.department(code="CITY-HEALTH")
    county_market = await f.department(level=AdminLevel.COUNTY, region="370811", code="RC-MARKET")
    other = await f.department(level=AdminLevel.COUNTY, region="370812", code="YZ-MARKET")
    admin_dept = await f.department(DepartmentKind.APPROVAL, code="PLATFORM")
    item = await f.item(market, health, county_market, other, code="FOOD-BUSINESS")
    return World(
        city=city,
        county=county,
        market=market,
        health=health,
        county_market=county_market,
        other_county_market=other,
        item=item,
        issuer=await f.user(city, Role.OFFICER, username="city_officer"),
        county_issuer=await f.user(county, Role.OFFICER, username="county_officer"),
        market_officer=await f.user(market, Role.OFFICER, username="market_officer"),
        health_officer=await f.user(health, Role.OFFICER, username="health_officer"),
        other_officer=await f.user(other, Role.OFFICER, username="other_officer"),
        admin=await f.user(admin_dept, Role.ADMIN, username="platform_admin"),
        admin_department=admin_dept,
    )


def issue_input(item: ApprovalItem, number: str = "济审批食〔2026〕101号", **over: Any) -> dict[str, Any]:
    counterparty = {
        "name": "张三",
        "kind": "PERSON",
        "idNumber": CITIZEN_ID,
        "phone": "13853712345",
        "contactName": "张三",
        "address": "济宁市任城区古槐路12号",
    }
    counterparty.update(over.pop("counterparty", {}))
    data = {
        "itemId": to_global_id("ApprovalItem", item.id),
        "documentNumber": number,
        "content": "准予食品经营许可",
        "approvedOn": "2026-09-30",
        "validFrom": "2026-09-30",
        "validUntil": "2031-09-29",
        "counterparty": counterparty,
    }
    data.update(over)
    return data


async def issue(gql: Gql, user: User, data: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    result = await gql(ISSUE, {"input": data}, user=user, now=now or f.at(2026, 9, 30))
    assert result["errors"] == []
    return dict(result["data"]["issueDecision"])


async def written() -> dict[str, int]:
    """What an operation may write: decisions, pushes and their outbox events."""
    return {
        "decisions": await Decision.all().count(),
        "pushes": await DecisionPush.all().count(),
        "events": await Event.all().count(),
        "recipients": await EventRecipient.all().count(),
    }


NOTHING = {"decisions": 0, "pushes": 0, "events": 0, "recipients": 0}


# --- who may issue -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OFFICER, Role.LIAISON, Role.INTEGRATION])
async def test_officer_liaison_and_system_account_of_an_approval_department_issue(gql: Gql, role: Role) -> None:
    w = await world()
    actor = await f.user(w.city, role)
    payload = await issue(gql, actor, issue_input(w.item))
    assert payload["errors"] == []
    assert payload["decision"]["issuer"] == {"code": "CITY-APPROVAL"}
    assert await written() == {"decisions": 1, "pushes": 2, "events": 2, "recipients": 2}


async def test_supervision_department_officer_may_not_issue_and_nothing_is_written(gql: Gql) -> None:
    w = await world()
    payload = await issue(gql, w.market_officer, issue_input(w.item))
    # The role passes the field's permission; acting for a supervision department is a domain rule.
    assert payload == {
        "decision": None,
        "errors": [
            {"code": "FORBIDDEN", "field": None, "message": "只有审批部门的经办人、联络员或系统账号可以作出审批决定"}
        ],
    }
    assert await written() == NOTHING


@pytest.mark.parametrize("role", [Role.LEADER, Role.ADMIN])
async def test_leader_and_admin_are_refused_at_the_field(gql: Gql, role: Role) -> None:
    w = await world()
    result = await gql(ISSUE, {"input": issue_input(w.item)}, user=await f.user(w.city, role), now=f.at(2026, 9, 30))
    assert result["data"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("FORBIDDEN", ["issueDecision"])]
    assert await written() == NOTHING


async def test_anonymous_caller_is_unauthenticated(gql: Gql) -> None:
    w = await world()
    result = await gql(ISSUE, {"input": issue_input(w.item)}, now=f.at(2026, 9, 30))
    assert result["data"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("UNAUTHENTICATED", ["issueDecision"])]
    assert await written() == NOTHING


# --- validation: a typed error naming the input path, nothing written --------------------------------

BAD_ID = CITIZEN_ID[:17] + ("0" if CITIZEN_ID[17] != "0" else "1")
BAD_CODE = CREDIT_CODE[:17] + ("0" if CREDIT_CODE[17] != "0" else "1")
ORG = {"kind": "ORGANIZATION", "name": "济宁鲁兴餐饮管理有限公司", "idNumber": None, "creditCode": CREDIT_CODE}


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"documentNumber": "   "}, "REQUIRED", "documentNumber"),
        ({"documentNumber": "号" * 65}, "TOO_LONG", "documentNumber"),
        ({"content": ""}, "REQUIRED", "content"),
        ({"content": "许" * 20001}, "TOO_LONG", "content"),
        ({"counterparty": {"name": " "}}, "REQUIRED", "counterparty.name"),
        ({"counterparty": {"name": "张" * 129}}, "TOO_LONG", "counterparty.name"),
        ({"counterparty": {"idNumber": BAD_ID}}, "INVALID_ID_NUMBER", "counterparty.idNumber"),
        ({"counterparty": {"idNumber": "37081119860214001"}}, "INVALID_ID_NUMBER", "counterparty.idNumber"),
        ({"counterparty": {"idNumber": None}}, "REQUIRED", "counterparty.idNumber"),
        ({"counterparty": {"idNumber": "", "creditCode": CREDIT_CODE}}, "REQUIRED", "counterparty.idNumber"),
        ({"counterparty": {**ORG, "creditCode": BAD_CODE}}, "INVALID_CREDIT_CODE", "counterparty.creditCode"),
        ({"counterparty": {**ORG, "creditCode": None, "idNumber": CITIZEN_ID}}, "REQUIRED", "counterparty.creditCode"),
        ({"counterparty": {"phone": "1385371234"}}, "INVALID_PHONE", "counterparty.phone"),
        ({"counterparty": {"contactName": "联" * 65}}, "TOO_LONG", "counterparty.contactName"),
        ({"counterparty": {"address": "路" * 257}}, "TOO_LONG", "counterparty.address"),
        ({"approvedOn": "2026-10-01"}, "DATE_IN_FUTURE", "approvedOn"),
        ({"validFrom": "2026-10-02", "validUntil": "2026-10-01"}, "INVALID_VALIDITY", "validUntil"),
        ({"itemId": to_global_id("ApprovalItem", 999999)}, "ITEM_NOT_FOUND", "itemId"),
        ({"itemId": to_global_id("Department", 1)}, "INVALID_ID", "itemId"),
        ({"itemId": "not-a-global-id"}, "INVALID_ID", "itemId"),
    ],
)
async def test_each_bad_input_is_a_typed_error_naming_its_path_and_nothing_is_written(
    gql: Gql, change: dict[str, Any], code: str, field: str
) -> None:
    w = await world()
    payload = await issue(gql, w.issuer, issue_input(w.item, **change))
    assert payload["decision"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["errors"][0]["message"]
    assert await written() == NOTHING


async def test_every_bad_field_is_reported_at_once(gql: Gql) -> None:
    w = await world()
    data = issue_input(
        w.item,
        documentNumber="",
        content=" ",
        approvedOn="2027-01-01",
        validFrom="2031-01-01",
        validUntil="2030-01-01",
        counterparty={"idNumber": BAD_ID, "phone": "12345"},
    )
    payload = await issue(gql, w.issuer, data)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("REQUIRED", "documentNumber"),
        ("REQUIRED", "content"),
        ("INVALID_ID_NUMBER", "counterparty.idNumber"),
        ("INVALID_PHONE", "counterparty.phone"),
        ("DATE_IN_FUTURE", "approvedOn"),
        ("INVALID_VALIDITY", "validUntil"),
    ]
    assert await written() == NOTHING


async def test_inactive_item_is_not_found(gql: Gql) -> None:
    w = await world()
    await ApprovalItem.filter(id=w.item.id).update(is_active=False)
    payload = await issue(gql, w.issuer, issue_input(w.item))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ITEM_NOT_FOUND", "itemId")]
    assert await written() == NOTHING


async def test_approval_date_is_compared_with_the_shanghai_date_not_utc(gql: Gql) -> None:
    w = await world()
    # 00:30 on 30 September in Shanghai is still 29 September in UTC.
    now = datetime(2026, 9, 29, 16, 30, tzinfo=UTC)
    payload = await issue(gql, w.issuer, issue_input(w.item, approvedOn="2026-09-30"), now=now)
    assert payload["errors"] == []
    assert [p["claimDueOn"] for p in payload["decision"]["pushes"]] == ["2026-10-10", "2026-10-10"]


async def test_identifiers_are_normalised_before_the_checksum(gql: Gql) -> None:
    w = await world()
    lower = make_citizen_id("110105", "19491231", 2)  # check character X
    assert lower.endswith("X")
    payload = await issue(gql, w.issuer, issue_input(w.item, counterparty={"idNumber": f" {lower.lower()} "}))
    assert payload["errors"] == []
    row = await Decision.get()
    assert row.id_number == lower


async def test_organization_decision_keeps_its_credit_code_unmasked_and_drops_a_stray_id_number(gql: Gql) -> None:
    w = await world()
    payload = await issue(gql, w.issuer, issue_input(w.item, counterparty={**ORG, "idNumber": CITIZEN_ID}))
    assert payload["errors"] == []
    assert payload["decision"]["counterparty"] == {
        "name": "济宁鲁兴餐饮管理有限公司",
        "kind": "ORGANIZATION",
        "idNumber": None,
        "creditCode": CREDIT_CODE,
        "contactName": "张三",
        "phone": "138****2345",
        "address": "济宁市任城区古槐路12号",
    }


# --- pushed in the same transaction ------------------------------------------------------------------


async def test_decision_is_pushed_at_once_to_each_city_supervisor_with_a_three_working_day_deadline(
    gql: Gql,
) -> None:
    w = await world()
    payload = await issue(gql, w.issuer, issue_input(w.item), now=f.at(2026, 9, 30, 16, 45))
    decision = payload["decision"]
    assert decision["documentNumber"] == "济审批食〔2026〕101号"
    assert (decision["channel"], decision["status"], decision["item"]) == (
        "PLATFORM",
        "VALID",
        {"code": "FOOD-BUSINESS"},
    )
    assert [{k: v for k, v in p.items() if k != "id"} for p in decision["pushes"]] == [
        {
            "department": {"code": code},
            "status": "PENDING",
            "pushedAt": "2026-09-30T16:45:00+08:00",
            "claimDueOn": "2026-10-10",
            "claimDeadline": "2026-10-10T23:59:59+08:00",
            "deadlineProvisional": False,
            "overdue": False,
            "claimedAt": None,
            "claimedBy": None,
            "claimedLate": False,
            "returnReason": None,
        }
        for code in ("CITY-MARKET", "CITY-HEALTH")
    ]
    pushes = await DecisionPush.all().order_by("id")
    events = await Event.all().order_by("id")
    assert [(e.kind, e.subject_type, e.subject_id, e.payload) for e in events] == [
        (
            EventKind.PUSH_CREATED,
            "DecisionPush",
            p.id,
            {"pushId": p.id, "decisionId": p.decision_id, "dueOn": "2026-10-10"},
        )
        for p in pushes
    ]
    audience = await EventRecipient.all().order_by("event_id").values_list("event_id", "department_id")
    assert audience == [(events[0].id, w.market.id), (events[1].id, w.health.id)]


async def test_spring_festival_example_deadline(gql: Gql) -> None:
    w = await world()
    payload = await issue(gql, w.issuer, issue_input(w.item, approvedOn="2026-02-13"), now=f.at(2026, 2, 13))
    assert {(p["claimDueOn"], p["claimDeadline"]) for p in payload["decision"]["pushes"]} == {
        ("2026-02-25", "2026-02-25T23:59:59+08:00")
    }


async def test_county_decision_goes_to_the_county_supervisor_of_its_own_region_only(gql: Gql) -> None:
    w = await world()
    payload = await issue(gql, w.county_issuer, issue_input(w.item, "任审批〔2026〕7号"))
    assert [p["department"]["code"] for p in payload["decision"]["pushes"]] == ["RC-MARKET"]


@pytest.mark.parametrize(
    ("responsibility", "issuer_level", "expected"),
    [
        (ResponsibilityKind.DELEGATED, AdminLevel.CITY, [("ITEM_DELEGATED", "itemId")]),
        (ResponsibilityKind.ABOLISHED, AdminLevel.CITY, [("ITEM_ABOLISHED", "itemId")]),
        (ResponsibilityKind.ABOLISHED, AdminLevel.COUNTY, [("ITEM_ABOLISHED", "itemId")]),
    ],
)
async def test_art_23_items_that_may_not_be_issued_here_are_refused(
    gql: Gql, responsibility: ResponsibilityKind, issuer_level: AdminLevel, expected: list[tuple[str, str]]
) -> None:
    w = await world()
    item = await create_approval_item(
        code="ART23",
        name="事项",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[w.market.id, w.county_market.id],
        responsibility=responsibility,
    )
    actor = w.issuer if issuer_level is AdminLevel.CITY else w.county_issuer
    payload = await issue(gql, actor, issue_input(item))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == expected
    assert await written() == NOTHING


async def test_delegated_item_issued_at_county_goes_to_the_county_supervisor(gql: Gql) -> None:
    w = await world()
    item = await create_approval_item(
        code="DELEGATED",
        name="下放事项",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[w.market.id, w.county_market.id],
        responsibility=ResponsibilityKind.DELEGATED,
    )
    payload = await issue(gql, w.county_issuer, issue_input(item))
    assert [p["department"]["code"] for p in payload["decision"]["pushes"]] == ["RC-MARKET"]


@pytest.mark.parametrize("responsibility", [ResponsibilityKind.ENTRUSTED, ResponsibilityKind.FILING])
async def test_entrusted_and_filing_items_go_to_the_listed_departments_whatever_their_level(
    gql: Gql, responsibility: ResponsibilityKind
) -> None:
    w = await world()
    item = await create_approval_item(
        code="LISTED",
        name="委托事项",
        legal_basis="依据",
        commitment_based=False,
        joint_inspection=False,
        supervising_department_ids=[w.other_county_market.id, w.market.id],
        responsibility=responsibility,
    )
    payload = await issue(gql, w.county_issuer, issue_input(item))
    assert [p["department"]["code"] for p in payload["decision"]["pushes"]] == ["CITY-MARKET", "YZ-MARKET"]


async def test_item_without_a_supervisor_at_the_issuers_level_is_an_error_and_nothing_is_written(gql: Gql) -> None:
    w = await world()
    county_only = await f.item(w.county_market, code="COUNTY-ONLY")
    payload = await issue(gql, w.issuer, issue_input(county_only))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NO_SUPERVISING_DEPARTMENT", "itemId")]
    other_region = await f.item(w.other_county_market, code="OTHER-REGION")
    payload = await issue(gql, w.county_issuer, issue_input(other_region))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NO_SUPERVISING_DEPARTMENT", "itemId")]
    assert await written() == NOTHING


async def test_offline_channel_is_kept_and_an_explicit_null_means_platform(gql: Gql) -> None:
    w = await world()
    system = await f.user(w.city, Role.INTEGRATION, username="legacy_system")
    offline = await issue(gql, system, issue_input(w.item, "线下〔2026〕1号", channel="OFFLINE"))
    null = await issue(gql, system, issue_input(w.item, "线下〔2026〕2号", channel=None))
    assert (offline["decision"]["channel"], null["decision"]["channel"]) == ("OFFLINE", "PLATFORM")


# --- idempotency ----------------------------------------------------------------------------------


async def test_retry_with_the_same_number_and_content_returns_the_existing_decision(gql: Gql) -> None:
    w = await world()
    first = await issue(gql, w.issuer, issue_input(w.item), now=f.at(2026, 9, 30, 10))
    after_first = await written()
    # An integrator's retry a day later: same decision, no new pushes, no new events, original deadlines.
    again = await issue(gql, w.issuer, issue_input(w.item), now=f.at(2026, 10, 1, 9))
    assert again["errors"] == []
    assert again["decision"] == first["decision"]
    assert await written() == after_first == {"decisions": 1, "pushes": 2, "events": 2, "recipients": 2}


@pytest.mark.parametrize(
    "change",
    [{"content": "准予食品经营许可（变更）"}, {"counterparty": {"phone": "13953712345"}}, {"validUntil": "2031-09-30"}],
)
async def test_same_number_with_different_content_is_a_duplicate_document_number(
    gql: Gql, change: dict[str, Any]
) -> None:
    w = await world()
    await issue(gql, w.issuer, issue_input(w.item))
    before = await written()
    payload = await issue(gql, w.issuer, issue_input(w.item, **change))
    assert payload["decision"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("DUPLICATE_DOCUMENT_NUMBER", "documentNumber")]
    assert await written() == before


async def test_same_number_in_another_issuing_department_is_another_decision(gql: Gql) -> None:
    w = await world()
    city = await issue(gql, w.issuer, issue_input(w.item))
    county = await issue(gql, w.county_issuer, issue_input(w.item))
    assert county["errors"] == []
    assert county["decision"]["id"] != city["decision"]["id"]
    assert await Decision.filter(document_number="济审批食〔2026〕101号").count() == 2


# --- what each side sees -------------------------------------------------------------------------


async def test_issuer_sees_every_push_and_a_receiver_only_its_own(gql: Gql) -> None:
    w = await world()
    decision_id = (await issue(gql, w.issuer, issue_input(w.item)))["decision"]["id"]

    async def push_departments(viewer: User) -> list[str] | None:
        result = await gql(DECISION, {"id": decision_id}, user=viewer, now=f.at(2026, 10, 1))
        node = result["data"]["node"]
        return None if node is None else [p["department"]["code"] for p in node["pushes"]]

    assert await push_departments(w.issuer) == ["CITY-MARKET", "CITY-HEALTH"]
    assert await push_departments(w.admin) == ["CITY-MARKET", "CITY-HEALTH"]
    assert await push_departments(w.market_officer) == ["CITY-MARKET"]
    assert await push_departments(w.health_officer) == ["CITY-HEALTH"]
    assert await push_departments(w.other_officer) is None


async def test_approval_side_sees_who_claimed_when_and_who_is_late(gql: Gql) -> None:
    w = await world()
    decision_id = (await issue(gql, w.issuer, issue_input(w.item)))["decision"]["id"]
    pushes = await DecisionPush.all().order_by("id")
    claim = "mutation($id: ID!) { claimPush(id: $id) { errors { code } } }"
    on_time = await gql(
        claim, {"id": to_global_id("DecisionPush", pushes[0].id)}, user=w.market_officer, now=f.at(2026, 10, 9, 15)
    )
    late = await gql(
        claim, {"id": to_global_id("DecisionPush", pushes[1].id)}, user=w.health_officer, now=f.at(2026, 10, 12, 9)
    )
    assert on_time["data"]["claimPush"]["errors"] == late["data"]["claimPush"]["errors"] == []
    result = await gql(DECISION, {"id": decision_id}, user=w.issuer, now=f.at(2026, 10, 12, 10))
    seen = [
        (p["department"]["code"], p["status"], p["claimedAt"], p["claimedBy"], p["claimedLate"], p["overdue"])
        for p in result["data"]["node"]["pushes"]
    ]
    # The claiming account is another department's user: the issuer sees the department, not the account.
    assert seen == [
        ("CITY-MARKET", "CLAIMED", "2026-10-09T15:00:00+08:00", None, False, False),
        ("CITY-HEALTH", "CLAIMED", "2026-10-12T09:00:00+08:00", None, True, False),
    ]
    own = await gql(DECISION, {"id": decision_id}, user=w.market_officer, now=f.at(2026, 10, 12, 10))
    assert [p["claimedBy"] for p in own["data"]["node"]["pushes"]] == [{"username": "market_officer"}]


async def test_decisions_list_holds_what_the_department_issued_or_received(gql: Gql) -> None:
    w = await world()
    await issue(gql, w.issuer, issue_input(w.item, "济审批〔2026〕1号"))
    await issue(gql, w.county_issuer, issue_input(w.item, "任审批〔2026〕2号"))
    query = "{ decisions { totalCount edges { node { documentNumber } } } }"

    async def numbers(viewer: User) -> tuple[int, list[str]]:
        result = (await gql(query, user=viewer, now=f.at(2026, 10, 1)))["data"]["decisions"]
        return result["totalCount"], [e["node"]["documentNumber"] for e in result["edges"]]

    assert await numbers(w.issuer) == (1, ["济审批〔2026〕1号"])
    assert await numbers(w.market_officer) == (1, ["济审批〔2026〕1号"])
    assert await numbers(await f.user(w.county_market)) == (1, ["任审批〔2026〕2号"])
    assert await numbers(w.other_officer) == (0, [])
    assert await numbers(w.admin) == (2, ["济审批〔2026〕1号", "任审批〔2026〕2号"])


# --- personal data ---------------------------------------------------------------------------------

MASKED = {"idNumber": CITIZEN_ID[:6] + "********" + CITIZEN_ID[-4:], "phone": "138****2345"}


async def test_id_number_and_phone_are_masked_for_every_role(gql: Gql) -> None:
    w = await world()
    await issue(gql, w.issuer, issue_input(w.item))
    assert {"idNumber": "370811********" + CITIZEN_ID[-4:], "phone": "138****2345"} == MASKED
    viewers = [
        w.issuer,
        w.admin,
        w.market_officer,
        await f.user(w.city, Role.LEADER),
        await f.user(w.city, Role.LIAISON),
        await f.user(w.market, Role.LEADER),
        await f.user(w.city, Role.INTEGRATION),
    ]
    for viewer in viewers:
        result = await gql(DECISIONS, user=viewer, now=f.at(2026, 10, 1))
        assert result["data"]["decisions"]["edges"] == [
            {"node": {"documentNumber": "济审批食〔2026〕101号", "counterparty": MASKED}}
        ], viewer.roles


@pytest.mark.parametrize(
    ("side", "role"),
    [
        ("issuer", Role.OFFICER),
        ("issuer", Role.LIAISON),
        ("receiver", Role.OFFICER),
        ("receiver", Role.LIAISON),
        ("admin", Role.ADMIN),
    ],
)
async def test_reveal_returns_the_full_values_and_is_audited(gql: Gql, side: str, role: Role) -> None:
    w = await world()
    decision_id = (await issue(gql, w.issuer, issue_input(w.item)))["decision"]["id"]
    departments = {"issuer": w.city, "receiver": w.market, "admin": w.admin_department}
    actor = await f.user(departments[side], role)
    result = await gql(REVEAL, {"id": decision_id}, user=actor, now=f.at(2026, 10, 1))
    assert result["data"]["revealCounterparty"] == {
        "counterparty": {"idNumber": CITIZEN_ID, "phone": "13853712345"},
        "errors": [],
    }
    row = await Decision.get()
    reveals = await AuditRecord.filter(action="reveal_counterparty").values(
        "actor_id", "department_id", "object_type", "object_id"
    )
    assert reveals == [
        {
            "actor_id": actor.id,
            "department_id": actor.department_id,
            "object_type": "Decision",
            "object_id": str(row.id),
        }
    ]


async def test_reveal_by_a_department_that_cannot_see_the_decision_is_refused_and_not_audited(gql: Gql) -> None:
    w = await world()
    decision_id = (await issue(gql, w.issuer, issue_input(w.item)))["decision"]["id"]
    result = await gql(REVEAL, {"id": decision_id}, user=w.other_officer, now=f.at(2026, 10, 1))
    assert result["data"]["revealCounterparty"] == {
        "counterparty": None,
        "errors": [{"code": "DECISION_NOT_FOUND", "field": "decisionId"}],
    }
    assert await AuditRecord.filter(action="reveal_counterparty").count() == 0


@pytest.mark.parametrize("role", [Role.LEADER, Role.INTEGRATION])
async def test_reveal_is_forbidden_to_leaders_and_system_accounts(gql: Gql, role: Role) -> None:
    w = await world()
    decision_id = (await issue(gql, w.issuer, issue_input(w.item)))["decision"]["id"]
    result = await gql(REVEAL, {"id": decision_id}, user=await f.user(w.city, role), now=f.at(2026, 10, 1))
    assert result["data"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("FORBIDDEN", ["revealCounterparty"])]
    assert await AuditRecord.filter(action="reveal_counterparty").count() == 0


async def test_reveal_of_an_organization_without_personal_data_says_so(gql: Gql) -> None:
    w = await world()
    data = issue_input(w.item, counterparty={**ORG, "phone": None})
    decision_id = (await issue(gql, w.issuer, data))["decision"]["id"]
    result = await gql(REVEAL, {"id": decision_id}, user=w.issuer, now=f.at(2026, 10, 1))
    assert result["data"]["revealCounterparty"] == {
        "counterparty": None,
        "errors": [{"code": "NOTHING_TO_REVEAL", "field": "decisionId"}],
    }
    assert await AuditRecord.filter(action="reveal_counterparty").count() == 0
