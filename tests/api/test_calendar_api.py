"""The working-day calendar through the schema: addWorkingDays, calendarYear, publishCalendarYear (rule 7)."""

from __future__ import annotations

from typing import Any

import pytest

from api.graphql.base import to_global_id
from models.calendar import CalendarDay, CalendarYear
from models.decision import DecisionPush
from models.enums import Role
from models.event import Event, EventKind, EventRecipient
from tests import factories as f
from tests.api.conftest import Gql
from tests.api.test_decisions import World, world

ADD = "query($start: Date!, $days: Int!) { addWorkingDays(start: $start, days: $days) }"
YEAR = "query($year: Int!) { calendarYear(year: $year) { year official holidays makeUpWorkdays workingDayCount } }"
PUBLISH = """mutation($input: PublishCalendarYearInput!) {
  publishCalendarYear(input: $input) {
    calendarYear { year official holidays makeUpWorkdays workingDayCount }
    movedDeadlines errors { code field } } }"""
PUSH = """query($id: ID!) { node(id: $id) { ... on DecisionPush {
  status claimDueOn claimDeadline deadlineProvisional overdue } } }"""
SCHEDULE_2027 = {
    "year": 2027,
    "holidays": [{"day": "2027-01-01", "name": "元旦"}],
    "makeUpWorkdays": [{"day": "2027-02-20", "name": "春节调休"}],
}


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-09-30", 3, "2026-10-10"),  # National Day, then the Saturday make-up workday
        ("2026-02-13", 3, "2026-02-25"),  # Spring Festival, with Saturday 14 February a workday
        ("2026-04-28", 7, "2026-05-11"),  # Labour Day, with Saturday 9 May a workday
        ("2026-10-09", 1, "2026-10-10"),
        ("2026-10-10", 1, "2026-10-12"),  # the start day never counts, even a workday
        ("2026-12-30", 3, "2027-01-04"),  # into 2027, not yet published: weekends only
    ],
)
async def test_add_working_days_examples(gql: Gql, start: str, days: int, expected: str) -> None:
    viewer = await f.user(await f.department(), Role.LEADER)
    result = await gql(ADD, {"start": start, "days": days}, user=viewer)
    assert result == {"data": {"addWorkingDays": expected}, "errors": []}


@pytest.mark.parametrize(
    ("start", "days"),
    [("2026-10-01", 0), ("2026-10-01", -3), ("2026-10-01", 366), ("2100-12-30", 5), ("1999-12-31", 1)],
)
async def test_add_working_days_outside_its_range_is_bad_user_input(gql: Gql, start: str, days: int) -> None:
    viewer = await f.user(await f.department(), Role.OFFICER)
    result = await gql(ADD, {"start": start, "days": days}, user=viewer)
    assert result["data"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [("BAD_USER_INPUT", ["addWorkingDays"])]


async def test_calendar_needs_a_signed_in_user(gql: Gql) -> None:
    for query, variables in ((ADD, {"start": "2026-10-01", "days": 1}), (YEAR, {"year": 2026})):
        result = await gql(query, variables)
        assert [e["code"] for e in result["errors"]] == ["UNAUTHENTICATED"]


async def test_calendar_year_2026_lists_its_holidays_and_make_up_days(gql: Gql) -> None:
    viewer = await f.user(await f.department(), Role.OFFICER)
    result = await gql(YEAR, {"year": 2026}, user=viewer)
    assert result["data"]["calendarYear"] == {
        "year": 2026,
        "official": True,
        # Holidays that fall on weekdays: those are the days the schedule takes away.
        "holidays": [
            "2026-01-01",
            "2026-01-02",
            "2026-02-16",
            "2026-02-17",
            "2026-02-18",
            "2026-02-19",
            "2026-02-20",
            "2026-02-23",
            "2026-04-06",
            "2026-05-01",
            "2026-05-04",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-01",
            "2026-10-02",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
        ],
        "makeUpWorkdays": ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
        "workingDayCount": 248,
    }


async def test_calendar_year_2027_is_provisional_until_published(gql: Gql) -> None:
    viewer = await f.user(await f.department(), Role.OFFICER)
    result = await gql(YEAR, {"year": 2027}, user=viewer)
    assert result["data"]["calendarYear"] == {
        "year": 2027,
        "official": False,
        "holidays": [],
        "makeUpWorkdays": [],
        "workingDayCount": 261,
    }
    bad = await gql(YEAR, {"year": 1999}, user=viewer)
    assert [e["code"] for e in bad["errors"]] == ["BAD_USER_INPUT"]


async def provisional_pushes(w: World) -> tuple[DecisionPush, DecisionPush, DecisionPush]:
    """Pushed 2026-12-30: one still open, one already claimed; and one pushed 2026-12-21, due in 2026."""
    item = await f.item(w.market, w.health, code="TWO-SUPERVISORS")
    late_december = await f.decision(w.issuer, item, now=f.at(2026, 12, 30), number="济审批〔2026〕900号")
    open_push = await DecisionPush.get(decision_id=late_december.id, department_id=w.market.id)
    claimed = await DecisionPush.get(decision_id=late_december.id, department_id=w.health.id)
    await DecisionPush.filter(id=claimed.id).update(
        status="CLAIMED", claimed_at=f.at(2026, 12, 31), claimed_by_id=w.health_officer.id
    )
    earlier = await f.decision(w.issuer, item, now=f.at(2026, 12, 21), number="济审批〔2026〕800号")
    in_2026 = await DecisionPush.get(decision_id=earlier.id, department_id=w.market.id)
    return open_push, claimed, in_2026


async def push_view(gql: Gql, push: DecisionPush, viewer: Any) -> dict[str, Any]:
    result = await gql(PUSH, {"id": to_global_id("DecisionPush", push.id)}, user=viewer, now=f.at(2027, 1, 4, 12))
    return dict(result["data"]["node"])


async def test_publishing_2027_moves_the_provisional_deadline_and_tells_both_sides(gql: Gql) -> None:
    w = await world()
    open_push, claimed, in_2026 = await provisional_pushes(w)
    assert await push_view(gql, open_push, w.market_officer) == {
        "status": "PENDING",
        "claimDueOn": "2027-01-04",
        "claimDeadline": "2027-01-04T23:59:59+08:00",
        "deadlineProvisional": True,
        "overdue": False,
    }
    events_before = await Event.all().count()

    result = await gql(PUBLISH, {"input": SCHEDULE_2027}, user=w.admin, now=f.at(2026, 12, 31))
    assert result["errors"] == []
    assert result["data"]["publishCalendarYear"] == {
        "calendarYear": {
            "year": 2027,
            "official": True,
            "holidays": ["2027-01-01"],
            "makeUpWorkdays": ["2027-02-20"],
            "workingDayCount": 261,
        },
        "movedDeadlines": 1,
        "errors": [],
    }
    # 31 Dec, (1 Jan holiday), 4 Jan, 5 Jan: the deadline is now firm and one working day later.
    assert await push_view(gql, open_push, w.market_officer) == {
        "status": "PENDING",
        "claimDueOn": "2027-01-05",
        "claimDeadline": "2027-01-05T23:59:59+08:00",
        "deadlineProvisional": False,
        "overdue": False,
    }
    untouched = await DecisionPush.get(id=claimed.id)
    assert (untouched.claim_due_on.isoformat(), untouched.deadline_provisional) == ("2027-01-04", True)
    assert (await DecisionPush.get(id=in_2026.id)).claim_due_on.isoformat() == "2026-12-24"

    moved = await Event.filter(kind=EventKind.DEADLINE_MOVED)
    assert [(e.subject_type, e.subject_id, e.payload) for e in moved] == [
        ("DecisionPush", open_push.id, {"pushId": open_push.id, "from": "2027-01-04", "to": "2027-01-05"})
    ]
    audience = [r.department_id for r in await EventRecipient.filter(event_id=moved[0].id).order_by("department_id")]
    assert audience == sorted([w.city.id, w.market.id])
    assert [e.payload for e in await Event.filter(kind=EventKind.CALENDAR_CHANGED)] == [{"year": 2027, "moved": 1}]
    assert await Event.all().count() == events_before + 2

    viewer = w.market_officer
    assert (await gql(ADD, {"start": "2026-12-30", "days": 3}, user=viewer))["data"] == {"addWorkingDays": "2027-01-05"}
    assert (await gql(ADD, {"start": "2027-02-19", "days": 1}, user=viewer))["data"] == {"addWorkingDays": "2027-02-20"}


async def test_only_an_admin_publishes_a_calendar_year(gql: Gql) -> None:
    w = await world()
    open_push, _, _ = await provisional_pushes(w)
    events_before = await Event.all().count()
    for role in (Role.LIAISON, Role.OFFICER, Role.LEADER, Role.INTEGRATION):
        result = await gql(PUBLISH, {"input": SCHEDULE_2027}, user=await f.user(w.city, role))
        assert result["data"] is None
        assert [(e["code"], e["path"]) for e in result["errors"]] == [("FORBIDDEN", ["publishCalendarYear"])]
    anonymous = await gql(PUBLISH, {"input": SCHEDULE_2027})
    assert [e["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert await CalendarYear.filter(year=2027).count() == 0
    assert await CalendarDay.filter(day__gte="2027-01-01").count() == 0
    assert (await DecisionPush.get(id=open_push.id)).claim_due_on.isoformat() == "2027-01-04"
    assert await Event.all().count() == events_before


def day(value: str, name: str = "") -> dict[str, str]:
    return {"day": value, "name": name}


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"holidays": [day("2026-12-31")]}, [("DATE_OUTSIDE_YEAR", "holidays.0")]),
        ({"makeUpWorkdays": [day("2027-02-20"), day("2028-01-01")]}, [("DATE_OUTSIDE_YEAR", "makeUpWorkdays.1")]),
        ({"makeUpWorkdays": [day("2027-01-06")]}, [("NOT_A_WEEKEND", "makeUpWorkdays.0")]),
        (
            {"holidays": [day("2027-02-20")], "makeUpWorkdays": [day("2027-02-20")]},
            [("CONFLICTING_DAYS", "makeUpWorkdays.0")],
        ),
        ({"holidays": [day("2027-01-01"), day("2027-01-01")]}, [("DUPLICATE_DAY", "holidays.1")]),
        ({"holidays": [day("2027-01-01", "元" * 65)]}, [("TOO_LONG", "holidays.0.name")]),
        ({"holidays": [day("2027-01-01", "元旦\u0000")]}, [("INVALID_CHARACTERS", "holidays.0.name")]),
        ({"year": 1999, "holidays": [], "makeUpWorkdays": []}, [("INVALID_YEAR", "year")]),
        (
            {"holidays": [day("2026-10-01")], "makeUpWorkdays": [day("2027-01-06")]},
            [("DATE_OUTSIDE_YEAR", "holidays.0"), ("NOT_A_WEEKEND", "makeUpWorkdays.0")],
        ),
    ],
)
async def test_bad_schedule_is_a_typed_error_and_nothing_changes(
    gql: Gql, schedule: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    w = await world()
    open_push, _, _ = await provisional_pushes(w)
    events_before = await Event.all().count()
    result = await gql(PUBLISH, {"input": {**SCHEDULE_2027, **schedule}}, user=w.admin)
    payload = result["data"]["publishCalendarYear"]
    assert (payload["calendarYear"], payload["movedDeadlines"]) == (None, 0)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == expected
    assert await CalendarYear.filter(year__gte=2027).count() == 0
    assert await CalendarDay.filter(day__gte="2027-01-01").count() == 0
    assert (await DecisionPush.get(id=open_push.id)).deadline_provisional is True
    assert await Event.all().count() == events_before
