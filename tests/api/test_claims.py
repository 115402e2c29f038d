"""claimPush, returnPush, reroutePush and the inbox through the schema (Art. 19, 20)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.account import User
from models.decision import DecisionPush
from models.enums import PushStatus, Role
from models.event import Event, EventKind, EventRecipient
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_decisions import World, world

PUSH = "id status claimDueOn claimDeadline overdue claimedAt claimedBy { username } claimedLate returnReason returnedAt"
CLAIM = f"mutation($id: ID!) {{ claimPush(id: $id) {{ push {{ {PUSH} }} errors {{ code field message }} }} }}"
RETURN = f"""mutation($id: ID!, $reason: String!) {{
  returnPush(id: $id, reason: $reason) {{ push {{ {PUSH} }} errors {{ code field message }} }} }}"""
REROUTE = """mutation($id: ID!, $to: ID!) {
  reroutePush(id: $id, departmentId: $to) {
    push { id status department { code } pushedAt claimDueOn claimDeadline decision { documentNumber } }
    errors { code field } } }"""
INBOX = """query($status: PushStatus, $overdue: Boolean, $dueBefore: Date, $first: Int, $after: String) {
  inbox(status: $status, overdue: $overdue, dueBefore: $dueBefore, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id status claimDueOn overdue decision { documentNumber } } } } }"""


def gid(push: DecisionPush) -> str:
    return to_global_id("DecisionPush", push.id)


async def one_push(w: World) -> DecisionPush:
    """A decision issued 2026-09-30 by the city bureau, pushed to the market department only (due 2026-10-10)."""
    item = await f.item(w.market, code="MARKET-ONLY")
    decision = await f.decision(w.issuer, item, now=f.at(2026, 9, 30), number="济审批〔2026〕1号")
    return await DecisionPush.get(decision_id=decision.id)


async def events_of(kind: EventKind) -> list[tuple[int, dict[str, Any], list[int]]]:
    rows = []
    for event in await Event.filter(kind=kind).order_by("id"):
        audience = [r.department_id for r in await EventRecipient.filter(event_id=event.id).order_by("department_id")]
        rows.append((event.subject_id, event.payload, audience))
    return rows


async def call(gql: Gql, query: str, variables: dict[str, Any], user: User, now: Any) -> dict[str, Any]:
    result = await gql(query, variables, user=user, now=now)
    assert result["errors"] == []
    return dict(next(iter(result["data"].values())))


# --- claim ---------------------------------------------------------------------------------------


async def test_claim_records_who_and_when_and_tells_both_sides(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    payload = await call(gql, CLAIM, {"id": gid(push)}, w.market_officer, f.at(2026, 10, 8, 14, 30))
    assert payload == {
        "errors": [],
        "push": {
            "id": gid(push),
            "status": "CLAIMED",
            "claimDueOn": "2026-10-10",
            "claimDeadline": "2026-10-10T23:59:59+08:00",
            "overdue": False,
            "claimedAt": "2026-10-08T14:30:00+08:00",
            "claimedBy": {"username": "market_officer"},
            "claimedLate": False,
            "returnReason": None,
            "returnedAt": None,
        },
    }
    assert await events_of(EventKind.PUSH_CLAIMED) == [
        (push.id, {"pushId": push.id, "decisionId": push.decision_id, "late": False}, sorted([w.city.id, w.market.id]))
    ]


async def test_liaison_officer_may_claim(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    liaison = await f.user(w.market, Role.LIAISON, username="market_liaison")
    payload = await call(gql, CLAIM, {"id": gid(push)}, liaison, f.at(2026, 10, 8))
    assert (payload["errors"], payload["push"]["claimedBy"]) == ([], {"username": "market_liaison"})


async def test_second_claim_is_already_claimed_and_the_first_stays(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    await call(gql, CLAIM, {"id": gid(push)}, w.market_officer, f.at(2026, 10, 8))
    colleague = await f.user(w.market, Role.OFFICER)
    payload = await call(gql, CLAIM, {"id": gid(push)}, colleague, f.at(2026, 10, 9))
    assert payload["push"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_CLAIMED", "id")]
    row = await DecisionPush.get(id=push.id)
    assert (row.claimed_by_id, row.claimed_at) == (w.market_officer.id, f.at(2026, 10, 8))
    assert len(await events_of(EventKind.PUSH_CLAIMED)) == 1


async def test_claim_by_another_department_is_push_not_found_and_changes_nothing(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    for outsider in (w.health_officer, w.issuer, w.admin):
        payload = await call(gql, CLAIM, {"id": gid(push)}, outsider, f.at(2026, 10, 8))
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("PUSH_NOT_FOUND", "id")]
    missing = await call(gql, CLAIM, {"id": to_global_id("DecisionPush", 99999)}, w.market_officer, f.at(2026, 10, 8))
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("PUSH_NOT_FOUND", "id")]
    wrong_type = await call(gql, CLAIM, {"id": to_global_id("Decision", push.id)}, w.market_officer, f.at(2026, 10, 8))
    assert [(e["code"], e["field"]) for e in wrong_type["errors"]] == [("INVALID_ID", "id")]
    assert (await DecisionPush.get(id=push.id)).status is PushStatus.PENDING
    assert await events_of(EventKind.PUSH_CLAIMED) == []


@pytest.mark.parametrize("role", [Role.LEADER, Role.INTEGRATION])
async def test_leader_or_system_account_of_the_receiver_may_not_claim(gql: Gql, role: Role) -> None:
    w = await world()
    push = await one_push(w)
    payload = await call(gql, CLAIM, {"id": gid(push)}, await f.user(w.market, role), f.at(2026, 10, 8))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FORBIDDEN", "id")]
    assert (await DecisionPush.get(id=push.id)).status is PushStatus.PENDING


async def test_anonymous_claim_is_unauthenticated(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    result = await gql(CLAIM, {"id": gid(push)}, now=f.at(2026, 10, 8))
    assert result["data"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("UNAUTHENTICATED", ["claimPush"])]


async def test_overdue_once_the_deadline_passed_unclaimed(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    query = "query($id: ID!) { node(id: $id) { ... on DecisionPush { overdue } } }"

    async def overdue(now: Any) -> bool:
        result = await gql(query, {"id": gid(push)}, user=w.market_officer, now=now)
        return bool(result["data"]["node"]["overdue"])

    assert await overdue(f.at(2026, 10, 10, 23, 59)) is False
    assert await overdue(f.at(2026, 10, 10, 23, 59).replace(second=59)) is False
    assert await overdue(f.at(2026, 10, 11, 0, 0)) is True


async def test_late_claim_is_recorded_as_late_and_is_no_longer_overdue(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    payload = await call(gql, CLAIM, {"id": gid(push)}, w.market_officer, f.at(2026, 10, 12, 9))
    assert (payload["push"]["status"], payload["push"]["claimedLate"], payload["push"]["overdue"]) == (
        "CLAIMED",
        True,
        False,
    )
    assert (await DecisionPush.get(id=push.id)).claimed_late is True
    assert await events_of(EventKind.PUSH_CLAIMED) == [
        (push.id, {"pushId": push.id, "decisionId": push.decision_id, "late": True}, sorted([w.city.id, w.market.id]))
    ]


# --- return and re-route -------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "code"), [("", "REQUIRED"), ("   ", "REQUIRED"), ("因" * 501, "TOO_LONG")])
async def test_return_needs_a_reason(gql: Gql, reason: str, code: str) -> None:
    w = await world()
    push = await one_push(w)
    payload = await call(gql, RETURN, {"id": gid(push), "reason": reason}, w.market_officer, f.at(2026, 10, 8))
    assert payload["push"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, "reason")]
    assert (await DecisionPush.get(id=push.id)).status is PushStatus.PENDING
    assert await events_of(EventKind.PUSH_RETURNED) == []


async def test_return_records_the_reason_and_tells_the_issuer(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    reason = "该事项属卫生健康部门监管职责，非本部门业务"
    payload = await call(gql, RETURN, {"id": gid(push), "reason": f"  {reason} "}, w.market_officer, f.at(2026, 10, 8))
    assert payload["errors"] == []
    assert (payload["push"]["status"], payload["push"]["returnReason"], payload["push"]["returnedAt"]) == (
        "RETURNED",
        reason,
        "2026-10-08T10:00:00+08:00",
    )
    assert await events_of(EventKind.PUSH_RETURNED) == [
        (
            push.id,
            {"pushId": push.id, "decisionId": push.decision_id, "reason": reason},
            sorted([w.city.id, w.market.id]),
        )
    ]
    # A returned push is settled: neither claimed nor returned again, and never overdue.
    claim = await call(gql, CLAIM, {"id": gid(push)}, w.market_officer, f.at(2026, 10, 20))
    again = await call(gql, RETURN, {"id": gid(push), "reason": "再次退回"}, w.market_officer, f.at(2026, 10, 20))
    assert [e["code"] for e in claim["errors"] + again["errors"]] == ["ALREADY_RETURNED", "ALREADY_RETURNED"]


async def test_a_claimed_push_cannot_be_returned(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    await call(gql, CLAIM, {"id": gid(push)}, w.market_officer, f.at(2026, 10, 8))
    payload = await call(gql, RETURN, {"id": gid(push), "reason": "不是我们的"}, w.market_officer, f.at(2026, 10, 9))
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_CLAIMED", "id")]
    assert (await DecisionPush.get(id=push.id)).status is PushStatus.CLAIMED


async def test_issuer_reroutes_a_returned_push_with_a_new_deadline_and_the_history_stays(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    await call(gql, RETURN, {"id": gid(push), "reason": "非本部门业务"}, w.market_officer, f.at(2026, 10, 8))
    payload = await call(
        gql, REROUTE, {"id": gid(push), "to": to_global_id("Department", w.health.id)}, w.issuer, f.at(2026, 10, 9, 11)
    )
    assert payload["errors"] == []
    new = await DecisionPush.get(department_id=w.health.id)
    assert payload["push"] == {
        "id": gid(new),
        "status": "PENDING",
        "department": {"code": "CITY-HEALTH"},
        "pushedAt": "2026-10-09T11:00:00+08:00",
        "claimDueOn": "2026-10-13",
        "claimDeadline": "2026-10-13T23:59:59+08:00",
        "decision": {"documentNumber": "济审批〔2026〕1号"},
    }
    assert new.rerouted_from_id == push.id
    pushes = (
        await DecisionPush.filter(decision_id=push.decision_id)
        .order_by("id")
        .values_list("department_id", "status", "return_reason")
    )
    assert pushes == [(w.market.id, PushStatus.RETURNED, "非本部门业务"), (w.health.id, PushStatus.PENDING, None)]
    assert [e[0] for e in await events_of(EventKind.PUSH_CREATED)] == [push.id, new.id]
    box = await call(gql, INBOX, {}, w.health_officer, f.at(2026, 10, 9, 12))
    assert [e["node"]["id"] for e in box["edges"]] == [gid(new)]


async def test_reroute_rules(gql: Gql) -> None:
    w = await world()
    push = await one_push(w)
    to_health = {"id": gid(push), "to": to_global_id("Department", w.health.id)}
    now = f.at(2026, 10, 9)

    async def codes(variables: dict[str, Any], user: User) -> list[tuple[str, str]]:
        payload = await call(gql, REROUTE, variables, user, now)
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await codes(to_health, w.issuer) == [("NOT_RETURNED", "id")]
    await call(gql, RETURN, {"id": gid(push), "reason": "非本部门业务"}, w.market_officer, f.at(2026, 10, 8))
    assert await codes(to_health, w.market_officer) == [("PUSH_NOT_FOUND", "id")]
    assert await codes(to_health, w.county_issuer) == [("PUSH_NOT_FOUND", "id")]
    assert await codes(to_health, await f.user(w.city, Role.LEADER)) == [("FORBIDDEN", "id")]
    assert await codes({**to_health, "to": to_global_id("Department", w.county.id)}, w.issuer) == [
        ("DEPARTMENT_NOT_FOUND", "departmentId")
    ]
    assert await codes({**to_health, "to": to_global_id("Department", 99999)}, w.issuer) == [
        ("DEPARTMENT_NOT_FOUND", "departmentId")
    ]
    assert await codes({**to_health, "to": to_global_id("Department", w.market.id)}, w.issuer) == [
        ("ALREADY_PUSHED", "departmentId")
    ]
    assert await DecisionPush.all().count() == 1
    assert await codes(to_health, w.issuer) == []
    # One returned push is re-routed once; a second target would mean two departments for one return.
    assert await codes({**to_health, "to": to_global_id("Department", w.county_market.id)}, w.issuer) == [
        ("ALREADY_REROUTED", "id")
    ]
    assert await DecisionPush.all().count() == 2


# --- inbox ---------------------------------------------------------------------------------------


@dataclass
class Inbox:
    w: World
    order: list[str]  # document numbers by deadline, then id
    by_number: dict[str, DecisionPush]


async def inbox_world(gql: Gql) -> Inbox:
    """Six pushes to the market department, issued out of deadline order; one claimed, one returned."""
    w = await world()
    item = await f.item(w.market, code="MARKET-ONLY")
    issued = [
        ("A", f.at(2026, 10, 20)),
        ("B", f.at(2026, 9, 30)),
        ("C", f.at(2026, 10, 12)),
        ("D", f.at(2026, 10, 13)),
        ("E", f.at(2026, 10, 13)),
        ("F", f.at(2026, 10, 9)),
    ]
    by_number = {}
    for number, now in issued:
        decision = await f.decision(w.issuer, item, now=now, number=number)
        by_number[number] = await DecisionPush.get(decision_id=decision.id)
    await call(gql, CLAIM, {"id": gid(by_number["C"])}, w.market_officer, f.at(2026, 10, 13))
    await call(gql, RETURN, {"id": gid(by_number["F"]), "reason": "非本部门业务"}, w.market_officer, f.at(2026, 10, 12))
    return Inbox(w=w, order=["B", "F", "C", "D", "E", "A"], by_number=by_number)


async def numbers(gql: Gql, viewer: User, **variables: Any) -> tuple[int, list[str]]:
    box = await call(gql, INBOX, variables, viewer, f.at(2026, 10, 14, 12))
    return box["totalCount"], [e["node"]["decision"]["documentNumber"] for e in box["edges"]]


async def test_inbox_is_ordered_by_deadline_with_every_status(gql: Gql) -> None:
    box = await inbox_world(gql)
    result = await call(gql, INBOX, {}, box.w.market_officer, f.at(2026, 10, 14, 12))
    nodes = [e["node"] for e in result["edges"]]
    assert [(n["decision"]["documentNumber"], n["claimDueOn"], n["status"], n["overdue"]) for n in nodes] == [
        ("B", "2026-10-10", "PENDING", True),
        ("F", "2026-10-13", "RETURNED", False),
        ("C", "2026-10-15", "CLAIMED", False),
        ("D", "2026-10-16", "PENDING", False),
        ("E", "2026-10-16", "PENDING", False),
        ("A", "2026-10-23", "PENDING", False),
    ]
    assert result["totalCount"] == 6
    assert result["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"status": "PENDING"}, ["B", "D", "E", "A"]),
        ({"status": "CLAIMED"}, ["C"]),
        ({"status": "RETURNED"}, ["F"]),
        ({"overdue": True}, ["B"]),
        ({"overdue": False}, ["F", "C", "D", "E", "A"]),
        ({"status": "PENDING", "overdue": False}, ["D", "E", "A"]),
        ({"status": "CLAIMED", "overdue": True}, []),
        ({"dueBefore": "2026-10-16"}, ["B", "F", "C"]),
        ({"dueBefore": "2026-10-17", "status": "PENDING", "overdue": False}, ["D", "E"]),
    ],
)
async def test_inbox_filters(gql: Gql, variables: dict[str, Any], expected: list[str]) -> None:
    box = await inbox_world(gql)
    assert await numbers(gql, box.w.market_officer, **variables) == (len(expected), expected)


async def test_inbox_pages_follow_the_after_cursor_to_the_end(gql: Gql) -> None:
    box = await inbox_world(gql)
    seen: list[str] = []
    pages = []
    after = None
    while True:
        page = await call(gql, INBOX, {"first": 2, "after": after}, box.w.market_officer, f.at(2026, 10, 14, 12))
        seen += [e["node"]["decision"]["documentNumber"] for e in page["edges"]]
        pages.append((len(page["edges"]), page["totalCount"], page["pageInfo"]["hasNextPage"]))
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == box.order
    assert pages == [(2, 6, True), (2, 6, True), (2, 6, False)]
    # Filters hold across pages too, with the tie on 2026-10-16 split between pages.
    first = await call(gql, INBOX, {"first": 3, "status": "PENDING"}, box.w.market_officer, f.at(2026, 10, 14, 12))
    rest = await call(
        gql,
        INBOX,
        {"first": 3, "status": "PENDING", "after": first["edges"][1]["cursor"]},
        box.w.market_officer,
        f.at(2026, 10, 14, 12),
    )
    assert [e["node"]["decision"]["documentNumber"] for e in first["edges"]] == ["B", "D", "E"]
    assert [e["node"]["decision"]["documentNumber"] for e in rest["edges"]] == ["E", "A"]
    assert (rest["totalCount"], rest["pageInfo"]["hasNextPage"]) == (4, False)


async def test_inbox_holds_only_the_viewers_department(gql: Gql) -> None:
    box = await inbox_world(gql)
    assert await numbers(gql, box.w.health_officer) == (0, [])
    assert await numbers(gql, box.w.issuer) == (0, [])
    leader = await f.user(box.w.market, Role.LEADER)
    assert await numbers(gql, leader, first=1) == (6, ["B"])


async def test_inbox_needs_a_signed_in_user(gql: Gql) -> None:
    result = await gql(INBOX, {}, now=f.at(2026, 10, 14))
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("UNAUTHENTICATED", ["inbox"])]


async def test_first_outside_the_page_limit_is_bad_user_input(gql: Gql) -> None:
    w = await world()
    result = await gql(INBOX, {"first": 101}, user=w.market_officer, now=f.at(2026, 10, 14))
    assert [e["code"] for e in result["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("raw", ["not-a-cursor", "abc|1", "2026-10-10T23:59:59+08:00|x", "%%%"])
async def test_a_malformed_cursor_is_bad_user_input(gql: Gql, raw: str) -> None:
    w = await world()
    await one_push(w)
    after = raw if raw == "%%%" else base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    result = await gql(INBOX, {"after": after}, user=w.market_officer, now=f.at(2026, 10, 14))
    assert result["data"] is None
    assert [(e["code"], e["message"]) for e in result["errors"]] == [("BAD_USER_INPUT", "无效的分页游标")]
