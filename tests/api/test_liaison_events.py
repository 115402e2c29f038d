"""Live events of inquiries, meetings and public submissions reach exactly the departments concerned."""

from __future__ import annotations

from typing import Any

from api.graphql.base import to_global_id
from api.services import Services
from models.event import last_sequence
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_inquiries import SEND, LiaisonWorld, dep, lw, ok, send_input
from tests.api.test_meetings import CONVENE, convene_input
from tests.api.test_public import SUBMIT, opinion
from tests.api.test_subscriptions import results, subscription

__all__ = ["lw"]
NOW = f.at(2026, 9, 30)
EVENTS = """subscription($a: String) { events(after: $a) { kind payload { __typename
  ... on RecordEventPayload { subject { __typename
      ... on Inquiry { subject } ... on Meeting { title } ... on PublicSubmission { subject } }
    deadline { kind dueOn department { name } } } } } }"""


def seen(result: dict[str, Any]) -> tuple[str, str, str | None]:
    assert result["errors"] == []
    event = result["data"]["events"]
    subject = event["payload"]["subject"]
    deadline = event["payload"]["deadline"]
    return event["kind"], subject["__typename"], deadline["dueOn"] if deadline else None


async def test_each_department_hears_only_its_own_flow_events(gql: Gql, lw: LiaisonWorld, services: Services) -> None:
    start = str(await last_sequence())
    streams = {
        name: await subscription(services, user, EVENTS, {"a": start})
        for name, user in (
            ("approval", lw.approval_liaison),
            ("market", lw.market_liaison),
            ("health", lw.health_liaison),
            ("other", lw.other_liaison),
        )
    }
    item = await f.item(lw.health)
    await ok(gql, SEND, {"i": send_input(lw, receiverIds=[dep(lw.market)])}, lw.approval_officer, NOW)
    await ok(gql, SEND, {"i": send_input(lw, receiverIds=[dep(lw.other)])}, lw.approval_officer, NOW)
    report = opinion(aboutItemId=to_global_id("ApprovalItem", item.id))
    await ok(gql, SUBMIT, {"i": report}, None, NOW)
    await ok(gql, CONVENE, {"i": convene_input(lw, departmentIds=[dep(lw.market)])}, lw.approval_liaison, NOW)

    assert [seen(r) for r in await results(streams["market"], 2)] == [
        ("INQUIRY_SENT", "Inquiry", "2026-10-13"),
        ("MEETING_CONVENED", "Meeting", None),
    ]
    # The other department's first event is its own inquiry: the market's never reached it.
    assert [seen(r) for r in await results(streams["other"], 1)] == [("INQUIRY_SENT", "Inquiry", "2026-10-13")]
    assert [seen(r) for r in await results(streams["health"], 1)] == [
        ("PUBLIC_SUBMISSION_ROUTED", "PublicSubmission", "2026-10-20")
    ]
    assert [seen(r) for r in await results(streams["approval"], 3)] == [
        ("INQUIRY_SENT", "Inquiry", "2026-10-13"),
        ("INQUIRY_SENT", "Inquiry", "2026-10-13"),
        ("MEETING_CONVENED", "Meeting", None),
    ]
    for stream in streams.values():
        await stream.aclose()
