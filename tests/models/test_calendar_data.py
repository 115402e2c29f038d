"""Rule 7: the calendar as data — seeded from chinese-calendar, extended by admins, moving open deadlines."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from models.calendar import (
    CalendarDay,
    CalendarYear,
    bump_version,
    calendar_version,
    current_calendar,
    publish_year,
    seed_calendar_from_package,
)
from models.claim import publish_calendar_year, recompute_open_deadlines
from models.decision import DecisionPush
from models.enums import CalendarSource, CalendarYearStatus, DepartmentKind, PushStatus, Role
from models.errors import DomainError, Forbidden, ValidationErrors
from models.event import Event, EventKind
from models.workdays import package_exception_days
from tests import factories as f


async def test_the_migrated_calendar_is_the_package_schedule_2004_to_2026(db: str) -> None:
    calendar = await current_calendar()
    exceptions, years = package_exception_days()
    assert {(e.day, e.is_workday) for e in calendar.exceptions} == {(e.day, e.is_workday) for e in exceptions}
    assert sorted(calendar.official_years) == years == list(range(2004, 2027))
    assert await CalendarYear.filter(status=CalendarYearStatus.OFFICIAL).count() == 23


async def test_seeding_again_adds_what_is_missing_and_keeps_an_administrators_entry(db: str) -> None:
    national_day = await CalendarDay.get(day=date(2026, 10, 1))
    make_up = await CalendarDay.get(day=date(2026, 10, 10))
    try:
        await CalendarDay.filter(id=national_day.id).delete()
        await CalendarDay.filter(id=make_up.id).update(name="管理员更正", source=CalendarSource.ADMIN)
        assert await seed_calendar_from_package() == 1
        assert await seed_calendar_from_package() == 0
        restored = await CalendarDay.get(day=date(2026, 10, 1))
        assert (restored.is_workday, restored.source) == (False, CalendarSource.PACKAGE)
        kept = await CalendarDay.get(day=date(2026, 10, 10))
        assert (kept.name, kept.source) == ("管理员更正", CalendarSource.ADMIN)
    finally:
        await CalendarDay.filter(day=date(2026, 10, 10)).update(name=make_up.name, source=CalendarSource.PACKAGE)
        await bump_version()


async def test_version_bumps_are_never_lost(db: str) -> None:
    before = await calendar_version()
    await asyncio.gather(*(bump_version() for _ in range(10)))
    assert await calendar_version() == before + 10


async def test_publishing_replaces_the_years_days_and_every_process_sees_it(db: str) -> None:
    await publish_year(2027, [(date(2027, 1, 1), "元旦"), (date(2027, 2, 8), "春节")], [(date(2027, 2, 20), "调休")])
    calendar = await current_calendar()
    assert 2027 in calendar.official_years
    assert (calendar.is_workday(date(2027, 2, 8)), calendar.is_workday(date(2027, 2, 20))) == (False, True)
    # A correction: the notice is re-issued without 8 February; the stored year is replaced, not merged.
    await publish_year(2027, [(date(2027, 1, 1), "元旦")], [])
    calendar = await current_calendar()
    assert (calendar.is_workday(date(2027, 2, 8)), calendar.is_workday(date(2027, 2, 20))) == (True, False)
    assert await CalendarDay.filter(day__gte=date(2027, 1, 1)).values_list("day", "source") == [
        (date(2027, 1, 1), CalendarSource.ADMIN)
    ]
    assert await CalendarYear.filter(year=2027).values_list("status", "source") == [
        (CalendarYearStatus.OFFICIAL, CalendarSource.ADMIN)
    ]


async def test_a_bad_schedule_reports_every_error_and_writes_nothing(db: str) -> None:
    version = await calendar_version()
    with pytest.raises(ValidationErrors) as caught:
        await publish_year(
            2027,
            [(date(2026, 12, 31), ""), (date(2027, 1, 1), ""), (date(2027, 1, 1), "")],
            [(date(2027, 1, 6), ""), (date(2027, 1, 2), "")],
        )
    assert [(e.code, e.field) for e in caught.value.errors] == [
        ("DATE_OUTSIDE_YEAR", "holidays.0"),
        ("DUPLICATE_DAY", "holidays.2"),
        ("NOT_A_WEEKEND", "makeUpWorkdays.0"),
    ]
    with pytest.raises(DomainError) as single:
        await publish_year(2101, [], [])
    assert (single.value.code, single.value.field) == ("INVALID_YEAR", "year")
    assert await CalendarYear.filter(year__gte=2027).count() == 0
    assert await calendar_version() == version


async def test_open_deadlines_move_with_the_schedule_and_back(db: str) -> None:
    city = await f.department(DepartmentKind.APPROVAL)
    market = await f.department()
    issuer = await f.user(city)
    decision = await f.decision(issuer, await f.item(market), now=f.at(2026, 12, 30))
    push = await DecisionPush.get(decision_id=decision.id)
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 4), True)

    await publish_year(2027, [(date(2027, 1, 1), "元旦"), (date(2027, 1, 4), "假想假日")], [])
    assert await recompute_open_deadlines(date(2026, 12, 1), f.at(2026, 12, 30, 12)) == 1
    push = await DecisionPush.get(id=push.id)
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 6), False)

    await publish_year(2027, [(date(2027, 1, 1), "元旦")], [(date(2027, 1, 2), "调休")])
    assert await recompute_open_deadlines(date(2026, 12, 1), f.at(2026, 12, 30, 12)) == 1
    assert await recompute_open_deadlines(date(2026, 12, 1), f.at(2026, 12, 30, 12)) == 0  # nothing left to move
    push = await DecisionPush.get(id=push.id)
    # 31 Dec, (1 Jan holiday), Saturday 2 Jan a make-up workday, 4 Jan.
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 4), False)
    moves = [e.payload for e in await Event.filter(kind=EventKind.DEADLINE_MOVED).order_by("id")]
    assert moves == [
        {"pushId": push.id, "from": "2027-01-04", "to": "2027-01-06"},
        {"pushId": push.id, "from": "2027-01-06", "to": "2027-01-04"},
    ]


async def test_only_an_admin_publishes_and_claimed_pushes_keep_their_deadline(db: str) -> None:
    city = await f.department(DepartmentKind.APPROVAL)
    market = await f.department()
    issuer = await f.user(city)
    decision = await f.decision(issuer, await f.item(market), now=f.at(2026, 12, 30))
    await DecisionPush.filter(decision_id=decision.id).update(status=PushStatus.CLAIMED)
    with pytest.raises(Forbidden):
        await publish_calendar_year(
            await f.user(city, Role.LIAISON), 2027, [(date(2027, 1, 1), "元旦")], [], now=f.at(2026, 12, 30, 12)
        )
    assert await CalendarYear.filter(year=2027).count() == 0
    admin = await f.user(city, Role.ADMIN)
    assert await publish_calendar_year(admin, 2027, [(date(2027, 1, 1), "元旦")], [], now=f.at(2026, 12, 30, 12)) == 0
    push = await DecisionPush.get(decision_id=decision.id)
    assert (push.claim_due_on, push.deadline_provisional) == (date(2027, 1, 4), True)
    changed = [e.payload for e in await Event.filter(kind=EventKind.CALENDAR_CHANGED)]
    assert changed == [{"year": 2027, "moved": 0}]


async def test_a_deadline_moved_later_takes_back_its_reminder_and_overdue_marks(db: str) -> None:
    city = await f.department(DepartmentKind.APPROVAL)
    issuer = await f.user(city)
    decision = await f.decision(issuer, await f.item(await f.department()), now=f.at(2026, 12, 30))
    push = await DecisionPush.get(decision_id=decision.id)
    # Provisional 2027-01-04; the reminder (31 Dec 09:00) went out and, at 5 Jan, the overdue mark.
    now = f.at(2027, 1, 5, 8)
    await DecisionPush.filter(id=push.id).update(reminded_at=f.at(2026, 12, 31, 9), overdue_at=now)
    await publish_year(2027, [(date(2027, 1, d), "元旦") for d in (1, 4, 5, 6)], [])
    assert await recompute_open_deadlines(date(2026, 12, 1), now) == 1
    push = await DecisionPush.get(id=push.id)
    # Due 2027-01-08 now: its reminder (7 Jan 09:00) is still ahead and so is its deadline.
    assert (push.claim_due_on, push.reminded_at, push.overdue_at) == (date(2027, 1, 8), None, None)
