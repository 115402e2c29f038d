"""Working-day arithmetic (domain.md, Working days) against the State Council schedules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from models.workdays import (
    FIRST_DAY,
    LAST_DAY,
    ExceptionDay,
    WorkCalendar,
    add_working_days,
    package_exception_days,
)

PACKAGE_FIRST = date(2004, 1, 1)
PACKAGE_LAST = date(2026, 12, 31)
MAX_OFFSET = 30


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    exceptions, years = package_exception_days()
    return WorkCalendar(exceptions, years)


@pytest.fixture(scope="module")
def package_flags() -> list[bool]:
    days = (PACKAGE_LAST - PACKAGE_FIRST).days + 1
    return [chinese_calendar.is_workday(PACKAGE_FIRST + timedelta(days=i)) for i in range(days)]


def test_package_exception_days_cover_2004_to_2026() -> None:
    exceptions, years = package_exception_days()
    assert years == list(range(2004, 2027))
    assert [e.day for e in exceptions] == sorted(e.day for e in exceptions)
    assert exceptions[0] == ExceptionDay(date(2004, 1, 1), False, "New Year's Day")
    assert exceptions[-1] == ExceptionDay(date(2026, 10, 10), True, "National Day")
    make_up = [e.day for e in exceptions if e.is_workday and e.day.year == 2026]
    assert make_up == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Saturday make-up day after National Day
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        # Sat 14 Feb worked, Spring Festival 15-23 off
        (date(2026, 2, 13), 3, date(2026, 2, 25)),
        # Labour Day 1-5 May off, Sat 9 May worked
        (date(2026, 4, 28), 7, date(2026, 5, 11)),
        (date(2026, 4, 28), 1, date(2026, 4, 29)),
        (date(2026, 4, 30), 1, date(2026, 5, 6)),
        # a holiday start does not count either
        (date(2026, 5, 1), 1, date(2026, 5, 6)),
        (date(2026, 9, 19), 1, date(2026, 9, 20)),  # Sunday make-up day
        (date(2026, 1, 1), 1, date(2026, 1, 4)),  # Sunday make-up day after New Year
        (date(2026, 6, 18), 1, date(2026, 6, 22)),  # Dragon Boat 19 Jun off
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # Friday of an unpublished year
    ],
)
def test_add_working_days(calendar: WorkCalendar, start: date, n: int, expected: date) -> None:
    assert calendar.add_working_days(start, n) == expected
    assert add_working_days(start, n, calendar) == expected


def test_every_start_day_2004_to_2026_matches_package(calendar: WorkCalendar, package_flags: list[bool]) -> None:
    last = len(package_flags) - 1
    mismatches = []
    for start_index in range(len(package_flags)):
        start = PACKAGE_FIRST + timedelta(days=start_index)
        found, index = 0, start_index
        while found < MAX_OFFSET and index < last:
            index += 1
            if package_flags[index]:
                found += 1
                expected = PACKAGE_FIRST + timedelta(days=index)
                if calendar.add_working_days(start, found) != expected:
                    mismatches.append((start, found, expected))
    assert mismatches == []


def test_every_day_2004_to_2026_is_workday_matches_package(calendar: WorkCalendar, package_flags: list[bool]) -> None:
    ours = [calendar.is_workday(PACKAGE_FIRST + timedelta(days=i)) for i in range(len(package_flags))]
    assert ours == package_flags


def test_2027_is_weekends_only_until_published(calendar: WorkCalendar) -> None:
    # Wed 30 Dec 2026 -> Thu 31 Dec (1), Fri 1 Jan 2027 (2, no holiday known yet),
    # Sat 2 and Sun 3 off, Mon 4 Jan (3).
    assert calendar.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 4)
    assert calendar.is_workday(date(2027, 1, 1)) is True
    assert calendar.is_provisional(date(2026, 12, 30), date(2027, 1, 4)) is True
    assert calendar.is_provisional(date(2026, 1, 1), date(2026, 12, 31)) is False
    assert calendar.is_provisional(date(2027, 1, 4), date(2026, 12, 30)) is True
    assert calendar.is_provisional(date(2003, 12, 31), date(2004, 1, 2)) is True


def test_publishing_2027_moves_the_deadline(calendar: WorkCalendar) -> None:
    published = calendar.extended([ExceptionDay(date(2027, 1, 1), False, "New Year's Day")], [2027])
    # Thu 31 Dec (1), Fri 1 Jan now off, Mon 4 (2), Tue 5 (3).
    assert published.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    assert published.is_provisional(date(2026, 12, 30), date(2027, 1, 5)) is False
    assert published.official_years == frozenset(range(2004, 2028))
    assert len(published.exceptions) == len(calendar.exceptions) + 1
    # The original calendar is unchanged: open deadlines are recomputed from the new one.
    assert calendar.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 4)
    assert 2027 not in calendar.official_years


def test_correction_replaces_an_earlier_entry(calendar: WorkCalendar) -> None:
    corrected = calendar.extended([ExceptionDay(date(2026, 10, 10), False, "withdrawn make-up day")])
    assert corrected.is_workday(date(2026, 10, 10)) is False
    assert corrected.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 12)


def test_weekday_workday_exception_and_weekend_holiday_are_accepted() -> None:
    cal = WorkCalendar(
        [ExceptionDay(date(2030, 1, 5), True), ExceptionDay(date(2030, 1, 6), False)],
        [],
    )
    # Sat 5 Jan 2030 worked; Sun 6 Jan declared off is off anyway.
    assert cal.add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 5)
    assert cal.add_working_days(date(2030, 1, 4), 2) == date(2030, 1, 7)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 10, 8), date(2026, 9, 30)),  # across National Day
        (date(2026, 10, 9), date(2026, 10, 8)),
        (date(2026, 10, 11), date(2026, 10, 10)),  # Saturday make-up day
        (date(2026, 2, 24), date(2026, 2, 14)),  # across Spring Festival
        (date(2026, 5, 11), date(2026, 5, 9)),
        (date(2026, 9, 21), date(2026, 9, 20)),  # Sunday make-up day
        (date(2026, 1, 5), date(2026, 1, 4)),
        (date(2026, 1, 4), date(2025, 12, 31)),
        (date(2000, 1, 4), date(2000, 1, 3)),
    ],
)
def test_previous_workday(calendar: WorkCalendar, day: date, expected: date) -> None:
    assert calendar.previous_workday(day) == expected


def test_previous_workday_before_first_working_day_raises(
    calendar: WorkCalendar,
) -> None:
    # 1-2 Jan 2000 is a weekend and 3 Jan the first working day in range.
    with pytest.raises(ValueError):
        calendar.previous_workday(date(2000, 1, 3))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 9, 30), date(2026, 10, 10), 3),
        (date(2026, 9, 30), date(2026, 10, 7), 0),
        (date(2026, 9, 30), date(2026, 9, 30), 0),
        (date(2026, 9, 29), date(2026, 9, 30), 1),
        (date(2026, 2, 13), date(2026, 2, 25), 3),
        (date(2026, 4, 28), date(2026, 5, 11), 7),
        (date(2026, 10, 10), date(2026, 9, 30), -3),
        # 261 weekdays - 19 weekday holidays + 6 make-up days.
        (date(2025, 12, 31), date(2026, 12, 31), 248),
    ],
)
def test_working_days_between(calendar: WorkCalendar, start: date, end: date, expected: int) -> None:
    assert calendar.working_days_between(start, end) == expected


def test_working_days_between_inverts_add_working_days(calendar: WorkCalendar) -> None:
    start = date(2026, 1, 1)
    for n in range(1, 200):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


@pytest.mark.parametrize("n", [0, -1, -30])
def test_add_working_days_rejects_n_below_one(calendar: WorkCalendar, n: int) -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 5, 6), n)


@pytest.mark.parametrize(
    ("start", "n"),
    [
        # result past the range: Thu 30, Fri 31 Dec 2100 is the last
        (date(2100, 12, 30), 2),
        (date(1999, 12, 31), 1),  # start before the range
        (date(2101, 1, 1), 1),  # start after the range
    ],
)
def test_add_working_days_outside_range_raises(calendar: WorkCalendar, start: date, n: int) -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(start, n)


def test_range_edges(calendar: WorkCalendar) -> None:
    assert (date(2000, 1, 1), date(2100, 12, 31)) == (FIRST_DAY, LAST_DAY)
    assert calendar.add_working_days(date(2100, 12, 30), 1) == date(2100, 12, 31)
    assert calendar.add_working_days(FIRST_DAY, 1) == date(2000, 1, 3)
    assert calendar.years == range(2000, 2101)


def test_datetime_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        calendar.add_working_days(datetime(2026, 5, 6, 16, tzinfo=UTC), 1)


@pytest.mark.parametrize(
    ("exceptions", "years"),
    [
        (
            [
                ExceptionDay(date(2026, 5, 9), True),
                ExceptionDay(date(2026, 5, 9), False),
            ],
            [],
        ),
        ([ExceptionDay(date(1999, 12, 31), False)], []),
        ([], [2101]),
    ],
)
def test_invalid_calendar_data_raises(exceptions: list[ExceptionDay], years: list[int]) -> None:
    with pytest.raises(ValueError):
        WorkCalendar(exceptions, years)


def test_year_summary_of_2026(calendar: WorkCalendar) -> None:
    summary = calendar.year_summary(2026)
    assert (summary.year, summary.official, summary.working_day_count) == (2026, True, 248)
    assert summary.make_up_workdays == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    assert date(2026, 10, 1) in summary.holidays  # National Day, a Thursday
    assert all(d.weekday() < 5 for d in summary.holidays)  # weekend holidays cost no working day
    provisional = calendar.year_summary(2027)
    assert (provisional.official, provisional.holidays, provisional.make_up_workdays) == (False, [], [])
