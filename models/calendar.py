"""The working-day calendar as data (architecture rule 7): seeded, extended by administrators."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise import fields
from tortoise.expressions import F
from tortoise.models import Model

from models.account import check_length
from models.enums import CalendarSource, CalendarYearStatus
from models.errors import DomainError, InvalidInput, raise_all
from models.workdays import ExceptionDay, WorkCalendar, package_exception_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)


class CalendarDay(Model):
    """A day that breaks the weekend rule: a statutory holiday or a make-up workday (调休)."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)
    is_workday = fields.BooleanField()
    name = fields.CharField(max_length=64, default="")
    source = fields.CharEnumField(CalendarSource, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "calendar_day"


class CalendarYear(Model):
    """Whether the schedule of a year is official (published) or provisional (weekends only)."""

    id = fields.IntField(primary_key=True)
    year = fields.IntField(unique=True)
    status = fields.CharEnumField(CalendarYearStatus, max_length=16)
    source = fields.CharEnumField(CalendarSource, max_length=16)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "calendar_year"


class CalendarState(Model):
    """One row whose version changes with every calendar edit, so every process reloads."""

    id = fields.IntField(primary_key=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "calendar_state"


_cache: tuple[int, WorkCalendar] | None = None


def deadline_at(due_on: date) -> datetime:
    """The end (23:59:59 Asia/Shanghai) of the day a deadline falls on."""
    return datetime.combine(due_on, END_OF_DAY, SHANGHAI)


REMIND_AT = time(9, 0)  # Asia/Shanghai, on the working day before a deadline's day


def reminder_moment(calendar: WorkCalendar, due_on: date) -> datetime:
    """Reminders (Art. 20 and every other working-day deadline): 09:00 of the last working day before the due day."""
    return datetime.combine(calendar.previous_workday(due_on), REMIND_AT, SHANGHAI)


def reminders_due_through(calendar: WorkCalendar, now: datetime) -> date:
    """The latest due day whose reminder moment has passed at `now` (for one indexed range query).

    A reminder is due once previous_workday(due_on) <= the last day whose 09:00 has passed, which
    holds exactly when due_on <= the first working day after that day.
    """
    local = now.astimezone(SHANGHAI)
    last = local.date() if local.time() >= REMIND_AT else local.date() - timedelta(days=1)
    return calendar.add_working_days(last, 1)


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


async def calendar_version() -> int:
    state = await CalendarState.get_or_none(id=1)
    return state.version if state else 0


async def bump_version() -> None:
    """Every process reloads the calendar when this changes; one atomic increment, so no edit is lost."""
    await CalendarState.get_or_create(id=1, defaults={"version": 0})
    await CalendarState.filter(id=1).update(version=F("version") + 1)


async def current_calendar(version: int | None = None) -> WorkCalendar:
    """The calendar as stored, rebuilt only when another process or an admin changed it.

    `version`: calendar_state's version when the caller read it already, in a statement of its own.
    """
    global _cache
    if version is None:
        version = await calendar_version()
    if _cache is not None and _cache[0] == version:
        return _cache[1]
    days = await CalendarDay.all()
    official = await CalendarYear.filter(status=CalendarYearStatus.OFFICIAL).values_list("year", flat=True)
    calendar = WorkCalendar(
        [ExceptionDay(d.day, d.is_workday, d.name) for d in days],
        [int(y) for y in official],  # type: ignore[call-overload]
    )
    _cache = (version, calendar)
    return calendar


async def seed_calendar_from_package() -> int:
    """Load 2004–2026 from the chinese-calendar package, never overwriting an administrator's entry."""
    exceptions, years = package_exception_days()
    known = set(await CalendarDay.all().values_list("day", flat=True))
    new = [
        CalendarDay(day=e.day, is_workday=e.is_workday, name=e.name[:64], source=CalendarSource.PACKAGE)
        for e in exceptions
        if e.day not in known
    ]
    await CalendarDay.bulk_create(new, batch_size=500)
    known_years = {row.year for row in await CalendarYear.all()}
    await CalendarYear.bulk_create(
        [
            CalendarYear(year=y, status=CalendarYearStatus.OFFICIAL, source=CalendarSource.PACKAGE)
            for y in years
            if y not in known_years
        ]
    )
    if new:
        await bump_version()
    return len(new)


def check_schedule(year: int, holidays: list[tuple[date, str]], workdays: list[tuple[date, str]]) -> list[DomainError]:
    """A State Council schedule: days inside the year, each once, make-up workdays on weekends only.

    Errors name the input paths of `publishCalendarYear` (holidays.N, makeUpWorkdays.N).
    """
    errors: list[DomainError] = []
    if not 2000 <= year <= 2100:
        errors.append(InvalidInput("年份超出范围", field="year", code="INVALID_YEAR"))
    for field, entries in (("holidays", holidays), ("makeUpWorkdays", workdays)):
        seen: set[date] = set()
        for i, (day, name) in enumerate(entries):
            if day.year != year:
                errors.append(InvalidInput(f"{day} 不在 {year} 年内", field=f"{field}.{i}", code="DATE_OUTSIDE_YEAR"))
            if day in seen:
                errors.append(InvalidInput(f"{day} 重复", field=f"{field}.{i}", code="DUPLICATE_DAY"))
            try:
                check_length(name, f"{field}.{i}.name", 64, required=False)
            except DomainError as error:
                errors.append(error)
            seen.add(day)
    for i, (day, _) in enumerate(workdays):
        if day.weekday() < 5:
            errors.append(InvalidInput(f"{day} 不是周末，无需调休", field=f"makeUpWorkdays.{i}", code="NOT_A_WEEKEND"))
    holiday_days = {d for d, _ in holidays}
    for i, (day, _) in enumerate(workdays):
        if day in holiday_days:
            errors.append(
                InvalidInput(f"{day} 不能既是假日又是调休工作日", field=f"makeUpWorkdays.{i}", code="CONFLICTING_DAYS")
            )
    return errors


async def publish_year(year: int, holidays: list[tuple[date, str]], workdays: list[tuple[date, str]]) -> None:
    """Rule 7: enter a year's official schedule (State Council notice); replaces that year's exception days."""
    raise_all(check_schedule(year, holidays, workdays))
    await CalendarDay.filter(day__gte=date(year, 1, 1), day__lte=date(year, 12, 31)).delete()
    await CalendarDay.bulk_create(
        [CalendarDay(day=d, is_workday=False, name=n, source=CalendarSource.ADMIN) for d, n in holidays]
        + [CalendarDay(day=d, is_workday=True, name=n, source=CalendarSource.ADMIN) for d, n in workdays]
    )
    updated = await CalendarYear.filter(year=year).update(
        status=CalendarYearStatus.OFFICIAL, source=CalendarSource.ADMIN
    )
    if not updated:
        await CalendarYear.create(year=year, status=CalendarYearStatus.OFFICIAL, source=CalendarSource.ADMIN)
    await bump_version()
