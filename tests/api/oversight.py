"""Shared set-up for the inspection and commitment flows: departments, people, items, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.graphql.base import to_global_id
from models.account import Department, User
from models.catalogue import ApprovalItem, create_approval_item
from models.enums import AdminLevel, DepartmentKind, Role
from models.event import Event, EventRecipient
from models.identifiers import make_citizen_id, make_credit_code
from tests import factories as f
from tests.api.conftest import Gql

COMPANY_CODE = make_credit_code("91370800MA3C4D5E6")
OTHER_CODE = make_credit_code("91370800MA3C4D5E7")
PERSON_ID = make_citizen_id("370811", "19860214", 7)


@dataclass
class World:
    approval: Department  # the city approval bureau: owns the pools, organises, issues
    county_approval: Department
    market: Department
    health: Department
    outsider: Department  # a supervision department with nothing to do with any of it
    officer: User  # approval officer
    county_officer: User
    market_officer: User
    health_officer: User
    outsider_officer: User
    leader: User  # of the approval bureau
    integration: User
    admin: User
    item: ApprovalItem  # joint inspection and notification-commitment, supervised by market and health


async def world() -> World:
    approval = await f.department(DepartmentKind.APPROVAL, code="CITY-APPROVAL")
    county = await f.department(DepartmentKind.APPROVAL, AdminLevel.COUNTY, "370811", code="RC-APPROVAL")
    market = await f.department(code="CITY-MARKET")
    health = await f.department(code="CITY-HEALTH")
    outsider = await f.department(code="CITY-WATER")
    platform = await f.department(DepartmentKind.APPROVAL, code="PLATFORM")
    item = await create_approval_item(
        code="FOOD-PRODUCTION",
        name="食品生产许可",
        legal_basis="《中华人民共和国食品安全法》第三十五条",
        commitment_based=True,
        joint_inspection=True,
        supervising_department_ids=[market.id, health.id],
    )
    return World(
        approval=approval,
        county_approval=county,
        market=market,
        health=health,
        outsider=outsider,
        officer=await f.user(approval, Role.OFFICER, username="approval_officer"),
        county_officer=await f.user(county, Role.OFFICER, username="county_officer"),
        market_officer=await f.user(market, Role.OFFICER, username="market_officer"),
        health_officer=await f.user(health, Role.OFFICER, username="health_officer"),
        outsider_officer=await f.user(outsider, Role.OFFICER, username="water_officer"),
        leader=await f.user(approval, Role.LEADER, username="approval_leader"),
        integration=await f.user(approval, Role.INTEGRATION, username="approval_system"),
        admin=await f.user(platform, Role.ADMIN, username="admin"),
        item=item,
    )


def gid(type_name: str, pk: int) -> str:
    return str(to_global_id(type_name, pk))


async def call(gql: Gql, query: str, variables: dict[str, Any], user: User | None, now: Any = None) -> dict[str, Any]:
    """Run a mutation that must not raise; returns its payload."""
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == [], result["errors"]
    return dict(next(iter(result["data"].values())))


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def events(kind: str) -> list[tuple[str, int, dict[str, Any], list[int]]]:
    """(subject type, subject id, payload, audience) of every event of a kind, oldest first."""
    rows = []
    for event in await Event.filter(kind=kind).order_by("id"):
        audience = [r.department_id for r in await EventRecipient.filter(event_id=event.id).order_by("department_id")]
        rows.append((event.subject_type, event.subject_id, event.payload, audience))
    return rows
