"""Inspection events reach the invited departments live, with their record and deadline, and no one else."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from models.calendar import SHANGHAI
from models.enums import CounterpartyKind, InspectionKind
from models.event import last_sequence
from models.inspection import create_inspection_task
from models.issuance import CounterpartyInput
from models.obligation import Obligation
from tests.api.oversight import COMPANY_CODE, world
from tests.api.test_subscriptions import commit, results, subscription

EVENTS = """subscription($a:String,$k:[PlatformEventKind!]){events(after:$a,kinds:$k){kind payload{
  __typename
  ... on RecordEventPayload{ subject { __typename ... on InspectionInvitation { status department { code } } }
    deadline { kind dueOn } } }}}"""


async def test_an_invited_department_hears_of_its_invitation_and_no_other(services: Any) -> None:
    w = await world()
    now = datetime.now(SHANGHAI)
    start = str(await last_sequence())
    kinds = ["INSPECTION_INVITED"]
    market = await subscription(services, w.market_officer, EVENTS, {"a": start, "k": kinds})
    organiser = await subscription(services, w.officer, EVENTS, {"a": start, "k": kinds})
    health = await subscription(services, w.health_officer, EVENTS, {"a": start, "k": kinds})

    async def invite(department_id: int) -> None:
        await create_inspection_task(
            w.officer,
            kind=InspectionKind.REVIEW,
            site="济宁市高新区",
            planned_at=now + timedelta(days=3),
            invited_department_ids=[department_id],
            now=now,
            application_reference="SQ-1",
            item_id=w.item.id,
            counterparty=CounterpartyInput(name="某公司", kind=CounterpartyKind.ORGANIZATION, credit_code=COMPANY_CODE),
        )

    await commit(lambda: invite(w.market.id), services)
    due = (await Obligation.get(kind="INSPECTION_REPLY", department_id=w.market.id)).due_on.isoformat()
    expected = {
        "kind": "INSPECTION_INVITED",
        "payload": {
            "__typename": "RecordEventPayload",
            "subject": {
                "__typename": "InspectionInvitation",
                "status": "PENDING",
                "department": {"code": "CITY-MARKET"},
            },
            "deadline": {"kind": "INSPECTION_REPLY", "dueOn": due},
        },
    }
    assert await results(market, 1) == [{"data": {"events": expected}, "errors": []}]
    assert await results(organiser, 1) == [{"data": {"events": expected}, "errors": []}]
    # The health department was not invited to the first task: the first event it receives is its own.
    await commit(lambda: invite(w.health.id), services)
    first = (await results(health, 1))[0]["data"]["events"]["payload"]["subject"]
    assert first == {"__typename": "InspectionInvitation", "status": "PENDING", "department": {"code": "CITY-HEALTH"}}
    for stream in (market, organiser, health):
        await stream.aclose()
