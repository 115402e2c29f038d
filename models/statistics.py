"""Timeliness statistics (Art. 19): how each department claimed its pushes and met its other deadlines.

Counted in SQL (one grouped statement per source), so a month of a province's pushes needs no row
in Python except the claim durations for the percentiles, which are a stored column. "Working hours"
are the hours between push and claim that fall on working days of the calendar (a claim made over a
weekend or a holiday does not count those days).
"""

from __future__ import annotations

import statistics as pystats
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from models.account import Department, LiaisonAppointment
from models.backflow import SupervisionAction
from models.calendar import SHANGHAI, current_calendar
from models.decision import DecisionPush, past_cutoff
from models.enums import Channel, ObligationStatus, PushStatus
from models.errors import InvalidInput
from models.obligation import RULES, Obligation
from models.workdays import WorkCalendar

MAX_PERIOD_DAYS = 400


def working_hours(calendar: WorkCalendar, start: datetime, end: datetime) -> float:
    """Hours between two moments that fall on working days (Asia/Shanghai)."""
    if end <= start:
        return 0.0
    a, b = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    total = 0.0
    day = a.date()
    while day <= b.date():
        if calendar.is_workday(day):
            lo = max(a, datetime.combine(day, time.min, SHANGHAI))
            hi = min(b, datetime.combine(day + timedelta(days=1), time.min, SHANGHAI))
            total += max(0.0, (hi - lo).total_seconds())
        day += timedelta(days=1)
    return round(total / 3600, 2)


@dataclass(frozen=True)
class Thresholds:
    """On-time rate below `red` is a red flag, below `yellow` a yellow one (configurable)."""

    red: float = 0.80
    yellow: float = 0.95


@dataclass
class ObligationCounts:
    kind: str
    title: str
    opened: int = 0
    done_on_time: int = 0
    done_late: int = 0
    open_overdue: int = 0


@dataclass
class ActionCounts:
    """Art. 21: supervision actions a department recorded (by penalty date) and how it pushed them back."""

    recorded: int = 0
    pushed_on_time: int = 0
    pushed_late: int = 0
    pushed_offline: int = 0
    unpushed_overdue: int = 0
    claimed_on_time: int = 0
    claimed_late: int = 0


@dataclass
class DepartmentTimeliness:
    department_id: int
    pushed: int = 0
    claimed_on_time: int = 0
    claimed_late: int = 0
    returned: int = 0
    unclaimed: int = 0
    overdue: int = 0
    median_claim_hours: float | None = None
    p90_claim_hours: float | None = None
    obligations: list[ObligationCounts] = field(default_factory=list)
    actions: ActionCounts | None = None

    @property
    def due(self) -> int:
        """Pushes whose claim day has come: claimed (either way), or unclaimed past the deadline."""
        return self.claimed_on_time + self.claimed_late + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        return round(self.claimed_on_time / self.due, 4) if self.due else None

    def flag(self, thresholds: Thresholds) -> str:
        """RED / YELLOW / GREEN by the on-time rate; NONE with nothing due yet."""
        rate = self.on_time_rate
        if rate is None:
            return "NONE"
        if rate < thresholds.red:
            return "RED"
        return "YELLOW" if rate < thresholds.yellow else "GREEN"


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) Asia/Shanghai; a typed error for a reversed or too long period."""
    if end < start:
        raise InvalidInput("结束日期不能早于开始日期", field="to", code="INVALID_PERIOD")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(f"统计区间不能超过 {MAX_PERIOD_DAYS} 天", field="to", code="INVALID_PERIOD")
    return datetime.combine(start, time.min, SHANGHAI), datetime.combine(end + timedelta(days=1), time.min, SHANGHAI)


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = pystats.quantiles(values, n=100, method="inclusive")
    return round(cuts[int(q * 100) - 1], 2)


async def timeliness(
    start: date,
    end: date,
    *,
    now: datetime,
    department_ids: list[int] | None = None,
    item_id: int | None = None,
) -> list[DepartmentTimeliness]:
    """Per receiving department, the pushes made in the period and what became of them by `now`.

    With `item_id`, only that item's decisions; with `department_ids`, only those departments.
    Obligations (notices, inquiries, penalty claims...) are counted by kind, by the day they started.
    """
    lo, hi = period_bounds(start, end)
    cutoff = past_cutoff(now)
    pushes = DecisionPush.filter(pushed_at__gte=lo, pushed_at__lt=hi)
    if item_id is not None:
        pushes = pushes.filter(decision__item_id=item_id)
    if department_ids is not None:
        pushes = pushes.filter(department_id__in=department_ids)
    rows = (
        await pushes.annotate(
            n_pushed=Count("id"),
            n_on_time=Count("id", _filter=Q(status=PushStatus.CLAIMED, claimed_late=False)),
            n_late=Count("id", _filter=Q(status=PushStatus.CLAIMED, claimed_late=True)),
            n_returned=Count("id", _filter=Q(status=PushStatus.RETURNED)),
            n_unclaimed=Count("id", _filter=Q(status=PushStatus.PENDING)),
            n_overdue=Count("id", _filter=Q(status=PushStatus.PENDING, claim_deadline__lte=cutoff)),
        )
        .group_by("department_id")
        .values("department_id", "n_pushed", "n_on_time", "n_late", "n_returned", "n_unclaimed", "n_overdue")
    )
    out: dict[int, DepartmentTimeliness] = {}
    for r in rows:
        out[r["department_id"]] = DepartmentTimeliness(
            department_id=r["department_id"],
            pushed=r["n_pushed"],
            claimed_on_time=r["n_on_time"],
            claimed_late=r["n_late"],
            returned=r["n_returned"],
            unclaimed=r["n_unclaimed"],
            overdue=r["n_overdue"],
        )
    await _claim_durations(pushes, out)
    if item_id is None:
        await _obligation_counts(start, end, cutoff, department_ids, out)
        await _action_counts(start, end, now, department_ids, out)
    return sorted(out.values(), key=lambda d: d.department_id)


async def _claim_durations(pushes: QuerySet[DecisionPush], out: dict[int, DepartmentTimeliness]) -> None:
    """Median and 90th percentile of working hours to claim, per department (stored at claim time)."""
    hours: dict[int, list[float]] = defaultdict(list)
    claimed = pushes.filter(status=PushStatus.CLAIMED, claim_hours__isnull=False)
    for department_id, value in await claimed.values_list("department_id", "claim_hours"):
        hours[department_id].append(float(value))
    for department_id, values in hours.items():
        values.sort()
        out[department_id].median_claim_hours = round(pystats.median(values), 2)
        out[department_id].p90_claim_hours = percentile(values, 0.9)


async def _obligation_counts(
    start: date, end: date, cutoff: datetime, department_ids: list[int] | None, out: dict[int, DepartmentTimeliness]
) -> None:
    query = Obligation.filter(started_on__gte=start, started_on__lte=end)
    if department_ids is not None:
        query = query.filter(department_id__in=department_ids)
    rows = (
        await query.annotate(
            n_opened=Count("id"),
            n_on_time=Count("id", _filter=Q(status=ObligationStatus.DONE, done_late=False)),
            n_late=Count("id", _filter=Q(status=ObligationStatus.DONE, done_late=True)),
            n_overdue=Count("id", _filter=Q(status=ObligationStatus.OPEN, deadline__lte=cutoff)),
        )
        .group_by("department_id", "kind")
        .values("department_id", "kind", "n_opened", "n_on_time", "n_late", "n_overdue")
    )
    for r in sorted(rows, key=lambda r: (r["department_id"], r["kind"])):
        dept = out.setdefault(r["department_id"], DepartmentTimeliness(department_id=r["department_id"]))
        rule = RULES.get(r["kind"])
        dept.obligations.append(
            ObligationCounts(
                kind=r["kind"],
                title=rule.title if rule else r["kind"],
                opened=r["n_opened"],
                done_on_time=r["n_on_time"],
                done_late=r["n_late"],
                open_overdue=r["n_overdue"],
            )
        )


async def _action_counts(
    start: date, end: date, now: datetime, department_ids: list[int] | None, out: dict[int, DepartmentTimeliness]
) -> None:
    """Supervision actions by the recording department: pushed on time, late, offline, still unpushed past due."""
    query = SupervisionAction.filter(penalty_decided_on__gte=start, penalty_decided_on__lte=end)
    if department_ids is not None:
        query = query.filter(department_id__in=department_ids)
    today = now.astimezone(SHANGHAI).date()
    rows = (
        await query.annotate(
            n_recorded=Count("id"),
            n_on_time=Count("id", _filter=Q(pushed_on__isnull=False, pushed_late=False)),
            n_late=Count("id", _filter=Q(pushed_on__isnull=False, pushed_late=True)),
            n_offline=Count("id", _filter=Q(channel=Channel.OFFLINE)),
            n_unpushed=Count("id", _filter=Q(pushed_on__isnull=True, push_due_on__lt=today)),
            n_claimed_on_time=Count("id", _filter=Q(claimed_at__isnull=False, claimed_late=False)),
            n_claimed_late=Count("id", _filter=Q(claimed_at__isnull=False, claimed_late=True)),
        )
        .group_by("department_id")
        .values(
            "department_id",
            "n_recorded",
            "n_on_time",
            "n_late",
            "n_offline",
            "n_unpushed",
            "n_claimed_on_time",
            "n_claimed_late",
        )
    )
    for r in rows:
        dept = out.setdefault(r["department_id"], DepartmentTimeliness(department_id=r["department_id"]))
        dept.actions = ActionCounts(
            recorded=r["n_recorded"],
            pushed_on_time=r["n_on_time"],
            pushed_late=r["n_late"],
            pushed_offline=r["n_offline"],
            unpushed_overdue=r["n_unpushed"],
            claimed_on_time=r["n_claimed_on_time"],
            claimed_late=r["n_claimed_late"],
        )


async def departments_without_liaison() -> list[Department]:
    """Art. 27: departments where nobody currently serves as liaison officer."""
    serving = LiaisonAppointment.filter(ended_at=None).values_list("department_id", flat=True)
    return await Department.exclude(id__in=await serving).order_by("id")


async def claim_hours_for(push: DecisionPush, claimed_at: datetime) -> float:
    """Stored on the push when it is claimed: the percentiles then need no calendar walk per row."""
    return working_hours(await current_calendar(), push.pushed_at, claimed_at)


OUTCOMES = ("ON_TIME", "LATE", "RETURNED", "UNCLAIMED", "OVERDUE")


def outcome_filter(outcome: str, now: datetime) -> Q:
    """The pushes behind one figure of a department's row (drill-down)."""
    cutoff = past_cutoff(now)
    filters = {
        "ON_TIME": Q(status=PushStatus.CLAIMED, claimed_late=False),
        "LATE": Q(status=PushStatus.CLAIMED, claimed_late=True),
        "RETURNED": Q(status=PushStatus.RETURNED),
        "UNCLAIMED": Q(status=PushStatus.PENDING),
        "OVERDUE": Q(status=PushStatus.PENDING, claim_deadline__lte=cutoff),
    }
    return filters[outcome]


def records_behind(
    department_id: int, start: date, end: date, outcome: str | None, *, now: datetime
) -> QuerySet[DecisionPush]:
    """The department's pushes of the period (optionally of one outcome), for drill-down."""
    lo, hi = period_bounds(start, end)
    query = DecisionPush.filter(department_id=department_id, pushed_at__gte=lo, pushed_at__lt=hi)
    return query.filter(outcome_filter(outcome, now)) if outcome else query
