"""Back-flow events reach, live, exactly the departments concerned (the `events` subscription)."""

from __future__ import annotations

from typing import Any

from api.services import Services
from models.enums import AdminLevel, DepartmentKind, Role
from models.event import last_sequence
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_backflow_actions import decision_of
from tests.api.test_backflow_notices import DECIDE, REVIEW, SEND, notice_input, ok
from tests.api.test_decisions import world
from tests.api.test_subscriptions import results, subscription

EVENTS = """subscription($a: String, $k: [PlatformEventKind!]) { events(after: $a, kinds: $k) { kind payload {
  __typename
  ... on DecisionEventPayload { decision { documentNumber status } }
  ... on PushEventPayload { push { decision { documentNumber } } }
  ... on RecordEventPayload {
    subject { __typename ... on Notice { kind status } } deadline { kind dueOn } detail } } } }"""


def kinds_of(batch: list[dict[str, Any]]) -> list[str]:
    assert all(r["errors"] == [] for r in batch), batch
    return [r["data"]["events"]["kind"] for r in batch]


async def test_notice_steps_and_the_status_change_reach_the_right_subscribers(gql: Gql, services: Services) -> None:
    w = await world()
    decision = await decision_of(w)
    await services.after_commit(f.at(2026, 9, 1))  # its pushes get their cursors before the subscriptions start
    start = str(await last_sequence())
    watched = ["NOTICE_SENT", "NOTICE_STATUS_CHANGED", "NOTICE_DECIDED", "DECISION_STATUS_CHANGED", "PUSH_CREATED"]
    market = await subscription(services, w.market_officer, EVENTS, {"a": start, "k": watched})
    city = await subscription(services, w.issuer, EVENTS, {"a": start, "k": watched})
    health = await subscription(services, w.health_officer, EVENTS, {"a": start, "k": watched})
    other = await subscription(services, w.other_officer, EVENTS, {"a": start, "k": watched})

    notice = (await ok(gql, SEND, {"input": notice_input(decision, "CANCEL")}, w.market_officer, f.at(2026, 9, 30)))[
        "notice"
    ]
    await ok(gql, REVIEW, {"id": notice["id"]}, w.issuer, f.at(2026, 10, 8))
    disposition = {"documentNumber": "济审批注〔2026〕1号", "decidedOn": "2026-10-09"}
    decide = {"id": notice["id"], "outcome": "ACCEPTED", "reasons": "同意注销", "disposition": disposition}
    await ok(gql, DECIDE, {"input": decide}, w.issuer, f.at(2026, 10, 9))
    # Then something the other county's market department does hear of: a decision of its own county.
    county_bureau = await f.department(DepartmentKind.APPROVAL, AdminLevel.COUNTY, "370812", code="YZ-APPROVAL")
    county_officer = await f.user(county_bureau, Role.OFFICER)
    await f.decision(county_officer, w.item, now=f.at(2026, 10, 9), number="兖审批〔2026〕5号")
    await services.after_commit(f.at(2026, 10, 9))

    sent = (await results(market, 1))[0]["data"]["events"]
    assert sent["kind"] == "NOTICE_SENT"
    # The subject is the record as it is now; the detail, the facts of the moment.
    assert sent["payload"]["subject"] == {"__typename": "Notice", "kind": "CANCEL", "status": "DECIDED"}
    assert (sent["payload"]["detail"]["status"], sent["payload"]["detail"]["kind"]) == ("RECEIVED", "CANCEL")
    assert sent["payload"]["deadline"] == {"kind": "NOTICE_REPLY", "dueOn": "2026-10-20"}
    assert kinds_of(await results(market, 3)) == ["NOTICE_STATUS_CHANGED", "DECISION_STATUS_CHANGED", "NOTICE_DECIDED"]

    assert kinds_of(await results(city, 4)) == [
        "NOTICE_SENT",
        "NOTICE_STATUS_CHANGED",
        "DECISION_STATUS_CHANGED",
        "NOTICE_DECIDED",
    ]
    # The health department received the decision: it hears of the status change, not of the notice.
    (changed,) = await results(health, 1)
    assert changed["data"]["events"] == {
        "kind": "DECISION_STATUS_CHANGED",
        "payload": {
            "__typename": "DecisionEventPayload",
            "decision": {"documentNumber": decision.document_number, "status": "CANCELLED"},
        },
    }
    # The other county hears nothing of it: its first event is its own county's push.
    (first,) = await results(other, 1)
    assert first["data"]["events"]["kind"] == "PUSH_CREATED"
    assert first["data"]["events"]["payload"]["push"] == {"decision": {"documentNumber": "兖审批〔2026〕5号"}}
    for stream in (market, city, health, other):
        await stream.aclose()


async def test_a_pushed_action_reaches_the_approval_department_with_its_claim_deadline(
    gql: Gql, services: Services
) -> None:
    from tests.api.test_backflow_actions import PUSH, RECORD, action_input

    w = await world()
    decision = await decision_of(w)
    await services.after_commit(f.at(2026, 9, 1))  # its pushes get their cursors before the subscriptions start
    start = str(await last_sequence())
    kinds = ["SUPERVISION_ACTION_PUSHED", "SUPERVISION_ACTION_CLAIMED", "PUSH_CREATED"]
    city = await subscription(services, w.issuer, EVENTS, {"a": start, "k": kinds})
    health = await subscription(services, w.health_officer, EVENTS, {"a": start, "k": kinds})
    recorded = await ok(gql, RECORD, {"input": action_input(decision)}, w.market_officer, f.at(2026, 9, 29))
    await ok(gql, PUSH, {"id": recorded["supervisionAction"]["id"], "to": None}, w.market_officer, f.at(2026, 10, 9))
    await f.decision(w.issuer, w.item, now=f.at(2026, 10, 9), number="济审批食〔2026〕10号")
    await services.after_commit(f.at(2026, 10, 9))

    pushed = (await results(city, 1))[0]["data"]["events"]
    assert pushed["kind"] == "SUPERVISION_ACTION_PUSHED"
    assert pushed["payload"]["deadline"] == {"kind": "PENALTY_CLAIM", "dueOn": "2026-10-13"}
    assert pushed["payload"]["detail"]["late"] is False
    # The health department's first event is the new decision's push, never the market department's action.
    (first,) = await results(health, 1)
    assert first["data"]["events"]["kind"] == "PUSH_CREATED"
    for stream in (city, health):
        await stream.aclose()
