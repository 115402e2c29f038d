"""Working-day calendar: weekends and statutory holidays off, make-up workdays (调休) on."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
_SATURDAY = 5


@dataclass(frozen=True)
class ExceptionDay:
    """A day off the weekend rule: a holiday (is_workday False) or a make-up workday (True)."""

    day: date
    is_workday: bool
    name: str = ""


@dataclass(frozen=True)
class YearSummary:
    """One year as deadlines see it: the days off that would otherwise be worked, and the make-up days."""

    year: int
    official: bool
    holidays: list[date]
    make_up_workdays: list[date]
    working_day_count: int


class WorkCalendar:
    """Working days 2000-2100: weekends off unless an exception says otherwise (domain.md, 工作日)."""

    def __init__(self, exceptions: Iterable[ExceptionDay], official_years: Iterable[int]) -> None:
        self._exceptions = _index_exceptions(exceptions)
        self._official_years = frozenset(official_years)
        stray = sorted(year for year in self._official_years if year not in self.years)
        if stray:
            raise ValueError(f"official years outside {FIRST_DAY.year}..{LAST_DAY.year}: {stray}")
        self._flags = _workday_flags(self._exceptions)
        first = FIRST_DAY.toordinal()
        # Sorted ordinals of every working day: the Nth working day after a
        # date is one bisect plus an index, with no walk over the days.
        self._ordinals = [first + offset for offset, flag in enumerate(self._flags) if flag]

    @property
    def years(self) -> range:
        """The years this calendar can answer for (official or weekends-only)."""
        return range(FIRST_DAY.year, LAST_DAY.year + 1)

    @property
    def official_years(self) -> frozenset[int]:
        """Years whose State Council schedule has been entered; the rest are weekends-only."""
        return self._official_years

    @property
    def exceptions(self) -> tuple[ExceptionDay, ...]:
        """Holidays and make-up workdays, by day."""
        return tuple(self._exceptions[day] for day in sorted(self._exceptions))

    def extended(self, exceptions: Iterable[ExceptionDay], official_years: Iterable[int] = ()) -> WorkCalendar:
        """Domain.md: a newly published year or a correction; given days replace earlier entries."""
        merged = dict(self._exceptions)
        merged.update(_index_exceptions(exceptions))
        return WorkCalendar(merged.values(), self._official_years | frozenset(official_years))

    def is_workday(self, day: date) -> bool:
        """Domain.md: a working day is not a weekend or holiday, or is a make-up workday."""
        return bool(self._flags[self._ordinal(day) - FIRST_DAY.toordinal()])

    def add_working_days(self, start: date, n: int) -> date:
        """Domain.md: the deadline is the Nth working day after start; start itself never counts."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        index = bisect_right(self._ordinals, self._ordinal(start)) + n - 1
        if index >= len(self._ordinals):
            raise ValueError(f"{n} working days after {start} is past {LAST_DAY}")
        return date.fromordinal(self._ordinals[index])

    def working_days_between(self, start: date, end: date) -> int:
        """Art. 19 reports: working days d with start < d <= end (negative if end precedes start)."""
        ordinals = self._ordinals
        return bisect_right(ordinals, self._ordinal(end)) - bisect_right(ordinals, self._ordinal(start))

    def previous_workday(self, day: date) -> date:
        """Reminders: the last working day strictly before day."""
        index = bisect_left(self._ordinals, self._ordinal(day))
        if index == 0:
            raise ValueError(f"no working day before {day} in this calendar")
        return date.fromordinal(self._ordinals[index - 1])

    def year_summary(self, year: int) -> YearSummary:
        """A year of the calendar: weekday holidays, make-up weekend workdays, and how many days are worked."""
        days = [e for e in self.exceptions if e.day.year == year]
        return YearSummary(
            year=year,
            official=year in self.official_years,
            holidays=sorted(e.day for e in days if not e.is_workday and e.day.weekday() < 5),
            make_up_workdays=sorted(e.day for e in days if e.is_workday),
            working_day_count=self.working_days_between(date(year - 1, 12, 31), date(year, 12, 31)),
        )

    def is_provisional(self, start: date, end: date) -> bool:
        """Domain.md: a span touching an unpublished year may move when that year is entered."""
        low, high = sorted((start.year, end.year))
        return any(year not in self._official_years for year in range(low, high + 1))

    def _ordinal(self, day: date) -> int:
        # A datetime would silently be read in its own time zone; deadlines
        # count Asia/Shanghai dates, so callers convert first.
        if isinstance(day, datetime):
            raise TypeError(f"expected a date in Asia/Shanghai, got datetime {day!r}")
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{day} is outside the calendar ({FIRST_DAY}..{LAST_DAY})")
        return day.toordinal()


def add_working_days(start: date, n: int, calendar: WorkCalendar) -> date:
    """Domain.md: the deadline is the Nth working day after start; start itself never counts."""
    return calendar.add_working_days(start, n)


def package_exception_days() -> tuple[list[ExceptionDay], list[int]]:
    """Domain.md: the published schedules 2004-2026 as carried by the chinese_calendar package."""
    # Imported here so that only seeding the calendar depends on the package.
    import chinese_calendar  # no type hints: ignore_missing_imports in pyproject

    holidays: dict[date, str] = chinese_calendar.holidays
    # The package's `workdays` holds only make-up days, Saturdays included;
    # its get_workdays(include_weekends=False) would drop those Saturdays.
    workdays: dict[date, str] = chinese_calendar.workdays
    days = [ExceptionDay(day, False, name) for day, name in holidays.items()]
    days += [ExceptionDay(day, True, name) for day, name in workdays.items()]
    days.sort(key=lambda exception: exception.day)
    # The package decides coverage the same way: from the years of its holidays.
    years = sorted({day.year for day in holidays})
    return days, list(range(years[0], years[-1] + 1))


def _index_exceptions(exceptions: Iterable[ExceptionDay]) -> dict[date, ExceptionDay]:
    indexed: dict[date, ExceptionDay] = {}
    for exception in exceptions:
        if not FIRST_DAY <= exception.day <= LAST_DAY:
            raise ValueError(f"{exception.day} is outside the calendar ({FIRST_DAY}..{LAST_DAY})")
        known = indexed.get(exception.day)
        if known is not None and known.is_workday != exception.is_workday:
            raise ValueError(f"{exception.day} is given both as a workday and as a day off")
        indexed[exception.day] = exception
    return indexed


def _workday_flags(exceptions: dict[date, ExceptionDay]) -> bytearray:
    first = FIRST_DAY.toordinal()
    size = LAST_DAY.toordinal() - first + 1
    weekday = FIRST_DAY.weekday()
    flags = bytearray((weekday + offset) % 7 < _SATURDAY for offset in range(size))
    for day, exception in exceptions.items():
        flags[day.toordinal() - first] = exception.is_workday
    return flags
